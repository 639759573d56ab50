package wasmrt

import (
	"context"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/sys"
)

// ErrTimeout marks a callback stopped by its deadline.
var ErrTimeout = errors.New("deadline exceeded")

// DescribeErr turns wazero's exit errors into ours: a deadline, a
// proc_exit, or the trap as is.
func DescribeErr(err error, ctx context.Context) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return ErrTimeout
		case sys.ExitCodeContextCanceled:
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return ErrTimeout
			}
			return context.Canceled
		default:
			return fmt.Errorf("the guest exited with code %d", exit.ExitCode())
		}
	}
	return err
}

// IsExit0 reports a proc_exit(0): a command module that finished.
func IsExit0(err error) bool {
	var exit *sys.ExitError
	return errors.As(err, &exit) && exit.ExitCode() == 0
}
