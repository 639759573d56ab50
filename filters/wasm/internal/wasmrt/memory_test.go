package wasmrt

import "testing"

const pageSize = 64 << 10

// The guest's memory grows within its capacity without moving, doubles
// when it must move (keeping the bytes), never past the limit, and what a
// grow exposes reads as zeros.
func TestLinearMemoryGrowth(t *testing.T) {
	m := NewLinearMemory(pageSize, 16*pageSize).(*LinearMemory)
	b := m.Reallocate(pageSize)
	if len(b) != pageSize {
		t.Fatalf("length %d, want %d", len(b), pageSize)
	}
	b[0], b[pageSize-1] = 1, 2
	b = m.Reallocate(3 * pageSize) // past the capacity: moves, doubling
	if len(b) != 3*pageSize || cap(b) != 3*pageSize {
		t.Fatalf("grown to length %d, capacity %d; want %d, %d", len(b), cap(b), 3*pageSize, 3*pageSize)
	}
	if b[0] != 1 || b[pageSize-1] != 2 {
		t.Fatal("the bytes were not kept across a move")
	}
	b = m.Reallocate(5 * pageSize) // 2x3 pages of capacity: 6
	if cap(b) != 6*pageSize {
		t.Fatalf("capacity %d pages, want 6 (doubled)", cap(b)/pageSize)
	}
	before := &b[0]
	b = m.Reallocate(6 * pageSize) // within the capacity: same bytes
	if &b[0] != before {
		t.Fatal("a grow within the capacity moved the memory")
	}
	for i := 3 * pageSize; i < len(b); i++ {
		if b[i] != 0 {
			t.Fatalf("byte %d of grown memory is %d, want 0", i, b[i])
		}
	}
	b = m.Reallocate(13 * pageSize) // doubling (12) is too small: the size itself
	if len(b) != 13*pageSize || cap(b) != 13*pageSize {
		t.Fatalf("length %d, capacity %d pages; want 13, 13", len(b)/pageSize, cap(b)/pageSize)
	}
	if b = m.Reallocate(14 * pageSize); cap(b) != 16*pageSize {
		t.Fatalf("capacity %d pages, want the limit (16), not 26", cap(b)/pageSize)
	}
	if m.Reallocate(17*pageSize) != nil {
		t.Fatal("grown past the limit")
	}
	m.Free()
}
