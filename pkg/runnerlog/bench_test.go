package runnerlog

import (
	"bytes"
	"testing"
)

// chunkOf repeats the given sample files until one MaxChunkSize read is full,
// ending at a line boundary, which is what the operator folds per read.
func chunkOf(b *testing.B, names ...string) []byte {
	var all []byte
	for _, n := range names {
		all = append(all, readSample(b, n)...)
	}
	var buf bytes.Buffer
	for buf.Len() < MaxChunkSize {
		buf.Write(all)
	}
	chunk := buf.Bytes()[:MaxChunkSize]
	complete, _ := SplitComplete(chunk)
	return complete
}

// BenchmarkSummarize64KiB measures folding one full-size log read. The MB/s
// column is the parser's throughput; ns/op is the cost of one read.
func BenchmarkSummarize64KiB(b *testing.B) {
	cases := []struct {
		name  string
		files []string
	}{
		{"mixed", sampleFiles},
		{"runner", []string{"sample-runner-nocolor.log"}},
		{"color", []string{"sample-runner-color.log"}},
		{"text", []string{"sample-text.log"}},
		{"json", []string{"sample-json.log"}},
	}
	for _, c := range cases {
		chunk := chunkOf(b, c.files...)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(chunk)))
			b.ReportAllocs()
			for b.Loop() {
				Summarize(chunk, Summary{})
			}
		})
	}
}
