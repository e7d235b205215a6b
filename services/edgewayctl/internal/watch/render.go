package watch

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// SGR sequences for the terminal table.
const (
	sgrReset  = "\x1b[0m"
	sgrBold   = "\x1b[1m"
	sgrRed    = "\x1b[31m"
	sgrGreen  = "\x1b[32m"
	sgrYellow = "\x1b[33m"
	barWidth  = 20
)

// Bar renders a progress bar of done out of total: "[#####-----]  50%".
func Bar(done, total, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("-", width) + "]   -"
	}
	n := done * width / total
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", n), strings.Repeat("-", width-n), done*100/total)
}

// Summary is the one-line state of a snapshot: "Instantiated, deployed
// Instantiated 5/5 applied, ready 3/5 [############--------]  60%".
func Summary(s *Snapshot) string {
	total, applied, _, ready := s.Totals()
	state := s.State
	if state == "" {
		state = "unknown"
	}
	ds := s.DeployedStatus
	if ds == "" {
		ds = "-"
	}
	rev := ""
	if s.Revision > 0 {
		rev = fmt.Sprintf(" (revision %d)", s.Revision)
	}
	return fmt.Sprintf("%s%s, deployed %s %d/%d applied, ready %d/%d %s", state, rev, ds, applied, total, ready, total, Bar(ready, total, barWidth))
}

// Table renders the snapshot as a table, one row per app and cluster; with
// color, rows are green when ready, red when failed, yellow otherwise.
func Table(s *Snapshot, color bool) []string {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tCLUSTER\tCONNECTIVITY\tDEPLOYED\tREADY\tPROGRESS")
	for i := range s.Rows {
		r := &s.Rows[i]
		total, applied, failed, ready := r.Counts()
		dep := fmt.Sprintf("%d/%d applied", applied, total)
		if failed > 0 {
			dep += fmt.Sprintf(", %d failed", failed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\n", r.AppName(), r.ClusterName(), r.Connectivity, dep, ready, total, Bar(ready, total, 10))
	}
	_ = tw.Flush()
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if color {
		lines[0] = sgrBold + lines[0] + sgrReset
		for i := range s.Rows {
			total, _, failed, ready := s.Rows[i].Counts()
			c := sgrYellow
			switch {
			case failed > 0 || rowBlocked(&s.Rows[i]):
				c = sgrRed
			case total > 0 && ready == total:
				c = sgrGreen
			}
			lines[i+1] = c + lines[i+1] + sgrReset
		}
	}
	return lines
}

func rowBlocked(r *Row) bool {
	for _, res := range r.Resources {
		if res.Blocked != "" {
			return true
		}
	}
	return false
}

// Renderer draws successive snapshots of one group.
type Renderer struct {
	W io.Writer
	// TTY redraws the table in place; otherwise lines are appended, and
	// only for what changed.
	TTY   bool
	Color bool
	// Start is when the watch began; plain lines show the time since.
	Start time.Time

	drawn       int // lines of the last drawing (TTY)
	lastSummary string
	lastRows    map[string]string
}

// Render draws a snapshot.
func (r *Renderer) Render(s *Snapshot) {
	if r.TTY {
		r.redraw(s)
	} else {
		r.lines(s)
	}
}

// Note prints a message line (an error while polling, the outcome).
func (r *Renderer) Note(msg string) {
	if r.TTY {
		r.drawn = 0 // the table stays above the note
		fmt.Fprintln(r.W, msg)
		return
	}
	fmt.Fprintf(r.W, "%s %s\n", r.stamp(time.Now()), msg)
}

func (r *Renderer) stamp(t time.Time) string {
	if r.Start.IsZero() {
		r.Start = t
	}
	return fmt.Sprintf("[%4ds]", int(t.Sub(r.Start).Round(time.Second)/time.Second))
}

func (r *Renderer) redraw(s *Snapshot) {
	title := DisplayName(s.Path) + ": " + Summary(s)
	if r.Color {
		switch s.Phase() {
		case Ready:
			title = sgrGreen + title + sgrReset
		case Failed:
			title = sgrRed + title + sgrReset
		}
	}
	lines := append([]string{title}, Table(s, r.Color)...)
	var b strings.Builder
	if r.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", r.drawn) // back to the first line of the last drawing
	}
	for _, l := range lines {
		b.WriteString("\r\x1b[2K" + l + "\n")
	}
	if r.drawn > len(lines) { // clear what the longer last drawing left
		for range r.drawn - len(lines) {
			b.WriteString("\x1b[2K\n")
		}
		fmt.Fprintf(&b, "\x1b[%dA", r.drawn-len(lines))
	}
	r.drawn = len(lines)
	_, _ = io.WriteString(r.W, b.String())
}

func (r *Renderer) lines(s *Snapshot) {
	stamp := r.stamp(s.Time)
	if sum := Summary(s); sum != r.lastSummary {
		fmt.Fprintf(r.W, "%s %s: %s\n", stamp, DisplayName(s.Path), sum)
		r.lastSummary = sum
	}
	rows := map[string]string{}
	for i := range s.Rows {
		row := &s.Rows[i]
		total, applied, failed, ready := row.Counts()
		line := fmt.Sprintf("%s on %s: %s, %d/%d applied", row.AppName(), row.ClusterName(), row.Connectivity, applied, total)
		if failed > 0 {
			line += fmt.Sprintf(", %d failed", failed)
		}
		line += fmt.Sprintf(", ready %d/%d", ready, total)
		k := row.AppName() + " " + row.ClusterName()
		rows[k] = line
		if r.lastRows[k] != line {
			fmt.Fprintf(r.W, "%s   %s\n", stamp, line)
		}
	}
	r.lastRows = rows
}
