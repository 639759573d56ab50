package compress

import (
	"fmt"
	"testing"
)

// BenchmarkEncode measures a pooled encoder compressing a 64 KiB JSON body
// (the shape of an API response) at several levels, the defaults among
// them: MB/s and the ratio (coded/original) are what the README's choice
// of default levels rests on. ns/KiB = 1e6 / (MB/s * 1.024).
//
//	go test -run '^$' -bench Encode -benchtime 100x ./filters/compress/
func BenchmarkEncode(b *testing.B) {
	body := corpus(64 << 10)
	for _, bc := range []struct {
		c      coding
		levels []int
	}{
		{gzipCoding, []int{1, 5, defaultGzipLevel, 9}},
		{brCoding, []int{defaultBrLevel, 4, 5}}, // 11 takes a second a body
		{zstdCoding, []int{defaultZstdLevel, 2, 3}},
	} {
		for _, level := range bc.levels {
			pool := newPool(bc.c, level)
			b.Run(fmt.Sprintf("%s/level=%d", bc.c, level), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				var out int
				for b.Loop() {
					s := getStream(pool)
					s.enc.Write(body)
					s.enc.Close()
					out = s.out.Len()
					s.release()
				}
				b.ReportMetric(float64(out)/float64(len(body)), "ratio")
			})
		}
	}
}
