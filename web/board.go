package web

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// contentSecurityPolicy lets the board load and connect to nothing but
// truceline itself.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; media-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// registerBoard serves the live alert board: index.html at / and its
// modules and styles under /static/; the daily summary at /summary; and
// /bulletin, the daily bulletin's printable page.
func registerBoard(mux *http.ServeMux) {
	files, _ := fs.Sub(static, "static")
	tags := entityTags(files)
	fileServer := http.FileServerFS(files)
	mux.Handle("GET /static/", secure(http.StripPrefix("/static/", revalidate(tags, fileServer))))
	mux.Handle("GET /{$}", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setValidators(w, tags, "index.html")
		http.ServeFileFS(w, r, files, "index.html")
	})))
	// The daily summary, also at /static/summary.html.
	mux.Handle("GET /summary", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setValidators(w, tags, "summary.html")
		http.ServeFileFS(w, r, files, "summary.html")
	})))
	// The printable daily bulletin is an answer of the API.
	mux.Handle("GET /bulletin", secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Set("format", "html")
		http.Redirect(w, r, "/api/v1/bulletins/daily?"+q.Encode(), http.StatusSeeOther)
	})))
}

// entityTags names each of the board's files by a hash of its content: the
// files are built into the binary, so they carry no modification time, and
// without a validator a browser fetched every script and style again on
// every load of the board (about 750 KB, the map's library and outlines
// among them), and compiled them again.
func entityTags(files fs.FS) map[string]string {
	tags := map[string]string{}
	_ = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		tags[name] = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		return nil
	})
	return tags
}

// setValidators lets the browser keep the file name: it asks again each
// time (no-cache), and truceline answers 304 Not Modified while the file
// is the same, so a new version of truceline is seen at the next load.
func setValidators(w http.ResponseWriter, tags map[string]string, name string) {
	w.Header().Set("Cache-Control", "no-cache")
	if tag, ok := tags[name]; ok {
		w.Header().Set("ETag", tag)
	}
}

// revalidate sets the validators of the file a request under /static/
// names (the prefix stripped).
func revalidate(tags map[string]string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setValidators(w, tags, strings.TrimPrefix(r.URL.Path, "/"))
		next.ServeHTTP(w, r)
	})
}

func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}
