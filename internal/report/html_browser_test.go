package report

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser hack/chromium.sh installs.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("IMDSGUARD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: run hack/chromium.sh (make test does), or set IMDSGUARD_CHROMIUM")
	return ""
}

// TestHTMLInBrowser renders the HTML report in headless Chromium at a phone's
// size and checks what a reader sees: the summary counts, one matrix row per
// namespace coloured by verdict, a workload's trace after opening it, no
// horizontal scrolling of the page, and not one network request.
func TestHTMLInBrowser(t *testing.T) {
	d := fixtureDocument()
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, render(t, d, FormatHTML, Options{}), 0o644); err != nil {
		t.Fatal(err)
	}
	// Chromium's helper processes may still write to their profile for a
	// moment after the browser exits, so the profile is removed by hand,
	// with retries, rather than by t.TempDir's strict cleanup.
	profile, err := os.MkdirTemp("", "imdsguard-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	var mu sync.Mutex
	var requests []string
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requests = append(requests, e.Request.URL)
			mu.Unlock()
		}
	})

	var reachable, rows, reachableCells, scrollWidth, innerWidth, traceItems string
	var shot []byte
	workload := `details.workload[data-workload="payments/Deployment/api"]`
	err = chromedp.Run(ctx,
		network.Enable(),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate("file://"+page),
		chromedp.WaitVisible(`#matrix-0`, chromedp.ByQuery),
		chromedp.Text(`#summary-0 .card[data-verdict="Reachable"] .n`, &reachable, chromedp.ByQuery),
		chromedp.Evaluate(`String(document.querySelectorAll("#matrix-0 tbody tr").length)`, &rows),
		chromedp.Evaluate(`String(document.querySelectorAll("#matrix-0 td.cell.reachable").length)`, &reachableCells),
		chromedp.Evaluate(`String(document.documentElement.scrollWidth)`, &scrollWidth),
		chromedp.Evaluate(`String(window.innerWidth)`, &innerWidth),
		chromedp.Click(workload+` > summary`, chromedp.ByQuery),
		chromedp.WaitVisible(workload+` ol.trace li`, chromedp.ByQuery),
		chromedp.Evaluate(`String(document.querySelectorAll('`+workload+` ol.trace li').length)`, &traceItems),
		chromedp.FullScreenshot(&shot, 80),
	)
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(d.Summary.Verdicts["Reachable"]); reachable != want {
		t.Errorf("summary shows %s Reachable, want %s", reachable, want)
	}
	byNS := groupByNamespace(d)
	wantRows := 0
	for ns, g := range byNS {
		if ns != "" || len(g.findings) > 0 {
			wantRows++
		}
	}
	if rows != strconv.Itoa(wantRows) {
		t.Errorf("matrix has %s rows, want %d", rows, wantRows)
	}
	if reachableCells == "0" {
		t.Errorf("no Reachable cell in the matrix")
	}
	if sw, iw := atoi(t, scrollWidth), atoi(t, innerWidth); sw > iw {
		t.Errorf("the page scrolls sideways on a phone: %d px wide in a %d px window", sw, iw)
	}
	if atoi(t, traceItems) == 0 {
		t.Errorf("opening %s shows no trace", workload)
	}
	if len(shot) < 1000 {
		t.Errorf("screenshot of %d bytes", len(shot))
	}
	if dir := os.Getenv("IMDSGUARD_SCREENSHOT_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, "report-phone.jpg"), shot, 0o644)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if !strings.HasPrefix(u, "file://") {
			t.Errorf("the report fetched %s", u)
		}
	}
	if len(requests) == 0 {
		t.Errorf("no request seen at all: the network listener is not working")
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
