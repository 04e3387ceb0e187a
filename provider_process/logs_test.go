package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

func TestEntriesRoundTripThroughTheCRIFormat(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	entry := logEntry{Time: when, Stream: pb.LogStream_LOG_STREAM_STDERR, Content: []byte("a b  c"), Partial: true}

	line := formatEntry(entry)
	if want := "2026-01-02T03:04:05.0000006Z stderr P a b  c\n"; string(line) != want {
		t.Fatalf("formatEntry = %q, want %q", line, want)
	}
	parsed, err := parseEntry(bytes.TrimSuffix(line, []byte("\n")))
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.Time.Equal(when) || parsed.Stream != entry.Stream || string(parsed.Content) != "a b  c" || !parsed.Partial {
		t.Fatalf("parseEntry = %+v, want %+v", parsed, entry)
	}
}

func TestCaptureSplitsLongLinesIntoPartialEntries(t *testing.T) {
	log, err := newContainerLog(filepath.Join(t.TempDir(), "c.log"))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", maxLine+10)
	log.capture(strings.NewReader("short\n"+long+"\nno newline at the end"), pb.LogStream_LOG_STREAM_STDOUT)
	log.finish()

	reader, err := openLog(log.path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	entries, err := reader.next()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, entry := range entries {
		got = append(got, strings.Repeat("P", boolCount(entry.Partial))+string(entry.Content[:min(len(entry.Content), 5)]))
	}
	want := []string{"short", "Pxxxxx", "xxxxx", "no ne"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("entries = %v, want %v", got, want)
	}
	if joined := string(entries[1].Content) + string(entries[2].Content); joined != long {
		t.Fatalf("the long line's parts add up to %d bytes, want %d", len(joined), len(long))
	}
}

func TestAReaderKeepsAnIncompleteLineForLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	line := formatEntry(logEntry{Time: time.Now(), Stream: pb.LogStream_LOG_STREAM_STDOUT, Content: []byte("whole")})
	if err := os.WriteFile(path, line[:10], 0o600); err != nil {
		t.Fatal(err)
	}
	reader, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if entries, err := reader.next(); err != nil || len(entries) != 0 {
		t.Fatalf("next() on half a line = %v, %v; want nothing yet", entries, err)
	}
	file, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = file.Write(line[10:])
	_ = file.Close()
	entries, err := reader.next()
	if err != nil || len(entries) != 1 || string(entries[0].Content) != "whole" {
		t.Fatalf("next() once the line is complete = %v, %v; want the entry", entries, err)
	}
}

func TestHistoryAppliesTailThenSince(t *testing.T) {
	start := time.Now()
	var entries []logEntry
	for i := range 5 {
		entries = append(entries, logEntry{Time: start.Add(time.Duration(i) * time.Second), Content: []byte{byte('a' + i)}})
	}
	cases := []struct {
		name    string
		options logOptions
		want    string
	}{
		{"everything", logOptions{tail: -1, limit: -1}, "abcde"},
		{"tail 2", logOptions{tail: 2, limit: -1}, "de"},
		{"tail 0", logOptions{tail: 0, limit: -1}, ""},
		{"since the third", logOptions{tail: -1, since: start.Add(2 * time.Second), limit: -1}, "cde"},
		{"tail 4 since the third", logOptions{tail: 4, since: start.Add(2 * time.Second), limit: -1}, "cde"},
	}
	for _, c := range cases {
		var got string
		for _, entry := range c.options.history(entries) {
			got += string(entry.Content)
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func boolCount(b bool) int {
	if b {
		return 1
	}
	return 0
}
