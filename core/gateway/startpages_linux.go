package gateway

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// releasePages unmaps the executable's read-only pages (see startpages.go)
// and returns how many bytes of them were resident, and how many of those
// it kept (mappings holding a private copy).
func releasePages() (resident, kept int64, err error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, 0, err
	}
	regions, err := executableRegions(exe)
	if err != nil {
		return 0, 0, err
	}
	for _, r := range regions {
		resident += r.rss
		if r.private > 0 {
			// A page of it was written, resident or swapped (a relocation in
			// a PIE's RELRO, a debugger's breakpoint, a uprobe): the private
			// copy is the only one and must stay.
			kept += r.rss
			continue
		}
		// The bounds come from the kernel, not from a Go pointer: the raw
		// call takes them as they are.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, unix.MADV_DONTNEED); errno != 0 {
			return resident, resident, errno
		}
	}
	return resident, kept, nil
}

// region is one read-only private mapping of the executable, from
// /proc/self/smaps: its bounds, its resident bytes, and the bytes of it
// that are private copies (anonymous, resident or swapped out).
type region struct {
	start, end   uintptr
	rss, private int64
}

// executableRegions lists the read-only private mappings of file exe.
func executableRegions(exe string) ([]region, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSmaps(f, exe)
}

// parseSmaps reads the read-only private mappings of file exe from an
// smaps listing.
func parseSmaps(smaps io.Reader, exe string) ([]region, error) {
	var (
		out []region
		cur *region
	)
	sc := bufio.NewScanner(smaps)
	for sc.Scan() {
		line := sc.Bytes()
		fields := bytes.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if bytes.HasSuffix(fields[0], []byte(":")) {
			// A field of the current mapping: "Rss:   1234 kB".
			if cur == nil || len(fields) < 2 {
				continue
			}
			kb, _ := strconv.ParseInt(string(fields[1]), 10, 64)
			switch string(fields[0]) {
			case "Rss:":
				cur.rss = kb << 10
			case "Anonymous:", "Swap:":
				// Not Private_Dirty: a page of an executable just written
				// (a test binary) is dirty in the page cache, not a copy.
				cur.private += kb << 10
			}
			continue
		}
		// A mapping's header: "start-end perms offset dev inode path".
		cur = nil
		// The path is the rest of the line from its first slash (the fields
		// before it have none): it may hold spaces, and " (deleted)".
		if i := bytes.IndexByte(line, '/'); len(fields) < 6 || i < 0 || string(line[i:]) != exe {
			continue
		}
		perms := fields[1]
		if len(perms) != 4 || perms[1] == 'w' || perms[3] != 'p' || perms[0] != 'r' {
			continue
		}
		start, end, ok := bytes.Cut(fields[0], []byte("-"))
		if !ok {
			continue
		}
		s, err1 := strconv.ParseUint(string(start), 16, 64)
		e, err2 := strconv.ParseUint(string(end), 16, 64)
		if err1 != nil || err2 != nil || e <= s {
			continue
		}
		out = append(out, region{start: uintptr(s), end: uintptr(e)})
		cur = &out[len(out)-1]
	}
	return out, sc.Err()
}
