package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestBoardFilesRevalidate: the board's page and files carry an ETag and
// no-cache, a request with that tag gets 304 and no body, and another tag
// gets the file: a browser keeps the files between loads of the board and
// still sees a new version at once.
func TestBoardFilesRevalidate(t *testing.T) {
	t.Parallel()
	h, _ := newFakeHandler(t)
	get := func(path, ifNoneMatch string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	seen := map[string]string{}
	for _, path := range []string{"/", "/summary", "/static/board.js", "/static/vendor/leaflet.js", "/static/summary.html"} {
		first := get(path, "")
		tag := first.Header().Get("ETag")
		if first.Code != http.StatusOK || tag == "" || first.Header().Get("Cache-Control") != "no-cache" || first.Body.Len() == 0 {
			t.Errorf("GET %s: %d, ETag %q, Cache-Control %q, %d bytes; want 200 with an ETag and no-cache",
				path, first.Code, tag, first.Header().Get("Cache-Control"), first.Body.Len())
			continue
		}
		if again := get(path, tag); again.Code != http.StatusNotModified || again.Body.Len() != 0 {
			t.Errorf("GET %s with If-None-Match %s: %d and %d bytes, want 304 and none", path, tag, again.Code, again.Body.Len())
		}
		if other := get(path, `"an-older-version"`); other.Code != http.StatusOK || other.Body.Len() != first.Body.Len() {
			t.Errorf("GET %s with another tag: %d and %d bytes, want 200 and the file", path, other.Code, other.Body.Len())
		}
		seen[path] = tag
	}
	if seen["/summary"] != seen["/static/summary.html"] {
		t.Errorf("/summary and /static/summary.html are the same file with tags %s and %s", seen["/summary"], seen["/static/summary.html"])
	}
	if seen["/"] == seen["/static/board.js"] {
		t.Error("index.html and board.js have the same tag")
	}
}
