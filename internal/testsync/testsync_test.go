package testsync

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	n := 0
	if err := Poll(time.Minute, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Fatalf("Poll = %v after %d calls, want nil after 3", err, n)
	}
	stop := errors.New("gone")
	n = 0
	if err := Poll(time.Minute, func() error { n++; return Stop(stop) }); err != stop || n != 1 {
		t.Fatalf("Poll with Stop = %v after %d calls, want the error after 1", err, n)
	}
	if err := Poll(0, func() error { return errors.New("never") }); err == nil || !strings.Contains(err.Error(), "never") {
		t.Fatalf("Poll past its deadline = %v", err)
	}
}
