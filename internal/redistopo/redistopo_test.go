package redistopo

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The helpers' own promise: a cluster whose master for a key, killed,
// is replaced by its replica, and a Sentinel setup that follows a failover.
func TestClusterFailover(t *testing.T) {
	c := StartCluster(t)
	old := c.MasterOf("k")
	if err := old.Client().Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := old.Client().Do(context.Background(), "WAIT", 1, 5000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d %v", n, err)
	}
	old.Kill()
	err := Poll(60*time.Second, func() error {
		if m := c.MasterOf("k"); m == old {
			return fmt.Errorf("%s still owns the slot", old.Addr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.MasterOf("k").Client().Get(context.Background(), "k").Result(); err != nil || v != "v" {
		t.Errorf("after the failover: %q %v, want the replicated value", v, err)
	}
}

func TestSentinelFailover(t *testing.T) {
	s := StartSentinel(t)
	first, err := s.MasterAddr()
	if err != nil || first != s.Master.Addr {
		t.Fatalf("master %q %v, want %s", first, err, s.Master.Addr)
	}
	s.Master.Kill()
	err = Poll(60*time.Second, func() error {
		a, err := s.MasterAddr()
		if err != nil {
			return err
		}
		if a == first {
			return fmt.Errorf("the sentinels still name %s", a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTLS(t *testing.T) {
	s := StartTLS(t)
	if err := s.Client().Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}
