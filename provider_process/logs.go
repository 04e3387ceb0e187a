package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "vkprocess/gen/virtualkubelet/provider/v1"
)

// maxLine is the longest line kept as one entry; longer lines are split into partial entries.
const maxLine = 16 * 1024

// logEntry is one line, or one part of a long line, that a container wrote.
type logEntry struct {
	Time    time.Time
	Stream  pb.LogStream
	Content []byte
	Partial bool
}

// formatEntry writes an entry in the CRI log format: "<RFC3339Nano time> <stdout|stderr> <F|P> <content>\n".
func formatEntry(entry logEntry) []byte {
	stream := "stdout"
	if entry.Stream == pb.LogStream_LOG_STREAM_STDERR {
		stream = "stderr"
	}
	tag := "F"
	if entry.Partial {
		tag = "P"
	}
	line := fmt.Appendf(nil, "%s %s %s ", entry.Time.UTC().Format(time.RFC3339Nano), stream, tag)
	line = append(line, entry.Content...)
	return append(line, '\n')
}

// parseEntry reads one line of the CRI log format, without its newline.
func parseEntry(line []byte) (logEntry, error) {
	fields := bytes.SplitN(line, []byte(" "), 4)
	if len(fields) != 4 {
		return logEntry{}, fmt.Errorf("malformed log line %q", line)
	}
	when, err := time.Parse(time.RFC3339Nano, string(fields[0]))
	if err != nil {
		return logEntry{}, fmt.Errorf("malformed log time: %w", err)
	}
	entry := logEntry{Time: when, Content: fields[3], Partial: string(fields[2]) == "P"}
	switch string(fields[1]) {
	case "stdout":
		entry.Stream = pb.LogStream_LOG_STREAM_STDOUT
	case "stderr":
		entry.Stream = pb.LogStream_LOG_STREAM_STDERR
	}
	return entry, nil
}

// containerLog is the log file of one run of a container. The process's output goes in through capture; readers
// open the file and follow it with changes() until finish() says no more will come.
type containerLog struct {
	path string

	mu       sync.Mutex
	file     *os.File
	changed  chan struct{} // closed and replaced after every append, and closed by finish
	finished bool
}

func newContainerLog(path string) (*containerLog, error) {
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &containerLog{path: path, file: file, changed: make(chan struct{})}, nil
}

func (l *containerLog) append(entry logEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.finished {
		return
	}
	// One write per line, so that a reader never sees half a line unless the disk is full.
	_, _ = l.file.Write(formatEntry(entry))
	close(l.changed)
	l.changed = make(chan struct{})
}

// finish closes the file: the process ended and its output has been captured.
func (l *containerLog) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.finished {
		return
	}
	l.finished = true
	_ = l.file.Close()
	close(l.changed)
}

// changes returns a channel closed at the next append (or at finish), and whether the log is already finished.
func (l *containerLog) changes() (<-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed, l.finished
}

// capture appends every line read from r as an entry of stream, until r ends.
func (l *containerLog) capture(r io.Reader, stream pb.LogStream) {
	reader := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := reader.ReadSlice('\n')
		switch {
		case err == nil:
			l.append(logEntry{Time: time.Now(), Stream: stream, Content: bytes.TrimSuffix(line, []byte("\n"))})
		case errors.Is(err, bufio.ErrBufferFull):
			l.append(logEntry{Time: time.Now(), Stream: stream, Content: line, Partial: true})
		default:
			if len(line) > 0 {
				l.append(logEntry{Time: time.Now(), Stream: stream, Content: line})
			}
			return
		}
	}
}

// logReader reads the entries of a log file as they are appended, keeping an incomplete last line for later.
type logReader struct {
	file *os.File
	rest []byte
}

func openLog(path string) (*logReader, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &logReader{file: file}, nil
}

func (r *logReader) Close() error { return r.file.Close() }

// next returns the entries appended since the last call.
func (r *logReader) next() ([]logEntry, error) {
	data, err := io.ReadAll(r.file)
	if err != nil {
		return nil, err
	}
	r.rest = append(r.rest, data...)
	var entries []logEntry
	for {
		end := bytes.IndexByte(r.rest, '\n')
		if end < 0 {
			break
		}
		entry, err := parseEntry(bytes.Clone(r.rest[:end]))
		r.rest = r.rest[end+1:]
		if err != nil {
			return entries, err
		}
		entries = append(entries, entry)
	}
	return entries, nil
}

// logOptions are the options of GetContainerLogs that the provider applies.
type logOptions struct {
	tail  int64 // -1: all
	since time.Time
	limit int64 // -1: no limit
}

func logOptionsOf(req *pb.GetContainerLogsRequest) logOptions {
	options := logOptions{tail: -1, limit: -1}
	if req.TailLines != nil {
		options.tail = max(req.GetTailLines(), 0)
	}
	if req.SinceTime != nil {
		options.since = req.GetSinceTime().AsTime()
	}
	if req.LimitBytes != nil {
		options.limit = max(req.GetLimitBytes(), 0)
	}
	return options
}

// history applies tail, then since, to the entries already written (as the kubelet does).
func (o logOptions) history(entries []logEntry) []logEntry {
	if o.tail >= 0 && int64(len(entries)) > o.tail {
		entries = entries[int64(len(entries))-o.tail:]
	}
	return o.fresh(entries)
}

// fresh drops the entries older than since.
func (o logOptions) fresh(entries []logEntry) []logEntry {
	if o.since.IsZero() {
		return entries
	}
	kept := entries[:0:0]
	for _, entry := range entries {
		if !entry.Time.Before(o.since) {
			kept = append(kept, entry)
		}
	}
	return kept
}

// logSender sends entries in messages of bounded size and counts bytes for limit_bytes.
type logSender struct {
	stream grpc.ServerStreamingServer[pb.GetContainerLogsResponse]
	left   int64 // bytes still allowed; -1: no limit
}

const maxEntriesPerMessage = 256

// send sends entries (and history_complete when asked); it reports false once limit_bytes is reached.
func (s *logSender) send(entries []logEntry, historyComplete bool) (bool, error) {
	response := &pb.GetContainerLogsResponse{}
	size := 0
	flush := func() error {
		if len(response.Entries) == 0 {
			return nil
		}
		err := s.stream.Send(response)
		response, size = &pb.GetContainerLogsResponse{}, 0
		return err
	}
	more := true
	for _, entry := range entries {
		if s.left == 0 {
			more = false
			break
		}
		content := entry.Content
		partial := entry.Partial
		if s.left > 0 {
			if int64(len(content)) > s.left {
				content, partial = content[:s.left], true
			}
			s.left -= int64(len(content))
		}
		response.Entries = append(response.Entries, &pb.LogEntry{
			Time: timestamppb.New(entry.Time), Stream: entry.Stream, Content: content, Partial: partial,
		})
		size += len(content)
		if len(response.Entries) >= maxEntriesPerMessage || size >= 32*1024 {
			if err := flush(); err != nil {
				return false, err
			}
		}
	}
	if s.left == 0 {
		more = false
	}
	if historyComplete {
		response.HistoryComplete = true
		return more, s.stream.Send(response)
	}
	return more, flush()
}

// streamLog answers GetContainerLogs from one log file: its history, then, when following, every new entry until
// the log is finished or the caller goes away.
func streamLog(log *containerLog, req *pb.GetContainerLogsRequest, stream grpc.ServerStreamingServer[pb.GetContainerLogsResponse]) error {
	reader, err := openLog(log.path)
	if err != nil {
		return internalError("reading the log: %v", err)
	}
	defer reader.Close()
	options := logOptionsOf(req)
	sender := &logSender{stream: stream, left: options.limit}
	changed, finished := log.changes()
	entries, err := reader.next()
	if err != nil {
		return internalError("reading the log: %v", err)
	}
	more, err := sender.send(options.history(entries), req.GetFollow())
	if err != nil || !more || !req.GetFollow() {
		return err
	}
	for !finished {
		select {
		case <-changed:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
		changed, finished = log.changes()
		entries, err := reader.next()
		if err != nil {
			return internalError("reading the log: %v", err)
		}
		if more, err = sender.send(options.fresh(entries), false); err != nil || !more {
			return err
		}
	}
	return nil
}
