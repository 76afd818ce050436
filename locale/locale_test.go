package locale

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

var slotRE = regexp.MustCompile(`\{[a-z]+\}`)

// Every catalog has exactly English's keys, and each message the same
// slots: a slot a translation leaves out is a fact the person never
// reads, and one it adds is never filled.
func TestCatalogsHaveTheSameKeysAndSlots(t *testing.T) {
	t.Parallel()
	if len(All()) < 2 {
		t.Fatalf("%d catalogs; want English and at least one more", len(All()))
	}
	for _, c := range All()[1:] {
		for _, k := range sortedKeys(English.msgs) {
			v, ok := c.msgs[k]
			if !ok {
				// Plural forms beyond |other follow each language's own rules.
				if base, form, plural := strings.Cut(k, "|"); plural && form != "other" && c.Has(base) {
					continue
				}
				t.Errorf("%s lacks %q", c.Lang, k)
				continue
			}
			if got, want := slots(v), slots(English.msgs[k]); !slices.Equal(got, want) && !strings.Contains(k, "|") {
				t.Errorf("%s %q has slots %v; English has %v", c.Lang, k, got, want)
			}
		}
		for _, k := range sortedKeys(c.msgs) {
			base, _, _ := strings.Cut(k, "|")
			if !English.Has(base) {
				t.Errorf("%s has %q, which English lacks", c.Lang, k)
			}
		}
	}
}

func TestEveryPluralHasOther(t *testing.T) {
	t.Parallel()
	for _, c := range All() {
		for k := range c.msgs {
			if base, _, ok := strings.Cut(k, "|"); ok {
				if _, ok := c.msgs[base+"|other"]; !ok {
					t.Errorf("%s: %q has no |other form", c.Lang, base)
				}
			}
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefs []string
		want  string
	}{
		{[]string{"zh-CN,zh;q=0.9,en;q=0.8"}, "zh-Hans"},
		{[]string{"zh"}, "zh-Hans"},
		{[]string{"zh-SG"}, "zh-Hans"},
		{[]string{"zh-Hans-CN"}, "zh-Hans"},
		{[]string{"en-US,en;q=0.9"}, "en"},
		{[]string{"en-GB"}, "en"},
		{[]string{"fr-FR,de;q=0.8"}, "en"},
		{[]string{"fr-FR,zh;q=0.5"}, "zh-Hans"},
		{[]string{""}, "en"},
		{[]string{"*"}, "en"},
		{[]string{"not a header;;;"}, "en"},
		{[]string{"en", "zh-CN"}, "en"},           // a chosen language beats the header
		{[]string{"zh-Hans", "en-US"}, "zh-Hans"}, // the cookie, then the header
		{[]string{"", "zh-CN"}, "zh-Hans"},        // no cookie: the header
		{[]string{"xx", "zh-CN"}, "zh-Hans"},      // a cookie naming no catalog is skipped
	} {
		if got := Match(tc.prefs...).Lang; got != tc.want {
			t.Errorf("Match(%q) = %s; want %s", tc.prefs, got, tc.want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LANG": "zh_CN.UTF-8"}, "zh-Hans"},
		{map[string]string{"LANG": "en_US.UTF-8"}, "en"},
		{map[string]string{"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, "en"},
		{map[string]string{"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_SG"}, "zh-Hans"},
		{map[string]string{}, "en"},
		{map[string]string{"LANG": "de_DE@euro"}, "en"},
	} {
		if got := FromEnv(func(k string) string { return tc.env[k] }).Lang; got != tc.want {
			t.Errorf("FromEnv(%v) = %s; want %s", tc.env, got, tc.want)
		}
	}
}

func TestTAndN(t *testing.T) {
	t.Parallel()
	zh := Match("zh-CN")
	if got := English.T("error.fileTooLarge", "limit", "50 MB"); got != "That file is larger than this server accepts (50 MB)." {
		t.Errorf("T = %q", got)
	}
	if got := zh.T("error.fileTooLarge", "limit", "50 MB"); !strings.Contains(got, "50 MB") || got == English.T("error.fileTooLarge", "limit", "50 MB") {
		t.Errorf("zh T = %q", got)
	}
	if got := English.N("pc.count", 1); got != "1 photo" {
		t.Errorf("N(1) = %q", got)
	}
	if got := English.N("pc.count", 3); got != "3 photos" {
		t.Errorf("N(3) = %q", got)
	}
	if got := zh.N("pc.count", 1); got != "1 张照片" {
		t.Errorf("zh N(1) = %q", got)
	}
	if got := English.T("no.such.key"); got != "no.such.key" {
		t.Errorf("missing key = %q", got)
	}
	if m := zh.Prefixed("phone."); len(m) == 0 || m["phone.title"] == "" || m["pc.title"] != "" {
		t.Errorf("Prefixed(phone.) = %d messages", len(m))
	}
}

func slots(s string) []string {
	got := slotRE.FindAllString(s, -1)
	slices.Sort(got)
	return slices.Compact(got)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
