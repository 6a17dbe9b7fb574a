package main

import "errors"

// wsFrame is what the CLI reads from a server frame of the WebSocket
// protocol (docs/WEBSOCKET.md). The byte slices point into the frame:
// they are valid only as long as the frame's buffer is. Strings are their
// raw contents between the quotes, not unescaped: the fields read here
// (types, zone and report ids) never need escapes.
type wsFrame struct {
	Type     []byte
	Zone     []byte
	Seq      int64
	ReportID []byte
	Alert    []byte // the alert object of an "alert" frame, as JSON
	EveryMS  int64  // a heartbeat's interval
}

var errBadFrame = errors.New("a frame that is not a JSON object")

// parseFrame reads a frame's top-level members in one pass without
// allocating, skipping everything else (the alert object is read only
// as far as finding where it ends). It trusts the server for well-formed
// JSON and checks only as much as it needs to find its way.
func parseFrame(data []byte) (wsFrame, error) {
	var f wsFrame
	err := eachMember(data, func(key, val []byte) {
		switch string(key) {
		case "type":
			f.Type = stringContents(val)
		case "zone":
			f.Zone = stringContents(val)
		case "seq":
			f.Seq = parseInt(val)
		case "report_id":
			f.ReportID = stringContents(val)
		case "alert":
			f.Alert = val
		case "every_ms":
			f.EveryMS = parseInt(val)
		}
	})
	return f, err
}

// eachReportID calls fn with each id of an alert object's report_ids.
func eachReportID(alert []byte, fn func(id []byte)) {
	_ = eachMember(alert, func(key, val []byte) {
		if string(key) == "report_ids" {
			eachString(val, fn)
		}
	})
}

// eachMember calls fn with the key and the raw value of each member of
// the JSON object obj.
func eachMember(obj []byte, fn func(key, val []byte)) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return errBadFrame
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return errBadFrame
		}
		end := skipString(obj, i)
		key := obj[i+1 : max(i+1, end-1)]
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return errBadFrame
		}
		start := skipSpace(obj, i+1)
		end = skipValue(obj, start)
		if end <= start {
			return errBadFrame
		}
		fn(key, obj[start:end])
		i = skipSpace(obj, end)
		if i >= len(obj) {
			break
		}
		switch obj[i] {
		case '}':
			return nil
		case ',':
			i = skipSpace(obj, i+1)
		default:
			return errBadFrame
		}
	}
	return errBadFrame
}

// eachString calls fn with the contents of each string of a JSON array.
func eachString(arr []byte, fn func([]byte)) {
	if len(arr) == 0 || arr[0] != '[' {
		return
	}
	for i := 1; i < len(arr); {
		switch arr[i] {
		case '"':
			end := skipString(arr, i)
			fn(arr[i+1 : max(i+1, end-1)])
			i = end
		case ']':
			return
		default:
			i++
		}
	}
}

// skipValue returns the index just past the JSON value starting at i.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // a number, true, false or null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && !isSpace(b[i]) {
			i++
		}
		return i
	}
}

// skipString returns the index just past the string whose opening quote
// is at i.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// stringContents is a JSON string's contents, or nil for any other value.
func stringContents(val []byte) []byte {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return nil
	}
	return val[1 : len(val)-1]
}

// parseInt reads a non-negative JSON integer; anything else is 0.
func parseInt(val []byte) int64 {
	var n int64
	for _, c := range val {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
