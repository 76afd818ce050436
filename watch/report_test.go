package watch

import (
	"errors"
	"strings"
	"testing"

	"qrsync/api"
	"qrsync/eventsource"
	"qrsync/locale"
)

// TestReportText: every report a person reads has its own line in every
// catalog, with each slot filled and the names it quotes kept as they are.
func TestReportText(t *testing.T) {
	t.Parallel()
	img := api.Image{Name: "IMG_0001.jpg"}
	why := errors.New("disk full")
	reports := []Report{
		{Kind: ReportState, State: eventsource.StateConnecting},
		{Kind: ReportState, State: eventsource.StateLive},
		{Kind: ReportState, State: eventsource.StateReconnecting},
		{Kind: ReportState, State: eventsource.StateReconnecting, Err: why},
		{Kind: ReportState, State: eventsource.StateEnded},
		{Kind: ReportSynced, Count: 1},
		{Kind: ReportSynced, Count: 3},
		{Kind: ReportSaved, File: "IMG_0001.jpg"},
		{Kind: ReportFound, File: "IMG_0001.jpg"},
		{Kind: ReportRetry, Image: img, Err: why},
		{Kind: ReportSkipped, Image: img},
		{Kind: ReportSkipped, Image: img, Err: why},
		{Kind: ReportDeleted, File: "IMG_0001.jpg"},
		{Kind: ReportKept, File: "IMG_0001.jpg"},
		{Kind: ReportKept, File: "IMG_0001.jpg", Err: why},
		{Kind: ReportProblem, Err: why},
		{Kind: ReportProblem},
		{Kind: ReportEnded},
	}
	for _, r := range reports {
		english := r.Text(locale.English)
		for _, cat := range locale.All() {
			got := r.Text(cat)
			if got == "" || strings.HasPrefix(got, "term.") || strings.ContainsAny(got, "{}") {
				t.Errorf("%s: report %+v reads %q", cat.Lang, r, got)
			}
			if cat != locale.English && got == english {
				t.Errorf("%s: report %+v reads as English: %q", cat.Lang, r, got)
			}
			for _, part := range []string{r.File, r.Image.Name} {
				if part != "" && !strings.Contains(got, part) {
					t.Errorf("%s: report %+v reads %q, without %q", cat.Lang, r, got, part)
				}
			}
		}
	}
	if got := (Report{Kind: ReportImage, Image: img}).String(); got != "" {
		t.Errorf("an image report reads %q; it is not for printing", got)
	}
}
