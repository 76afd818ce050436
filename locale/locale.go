// Package locale holds every text a person reads, one catalog per
// language, and picks the catalog a request or a terminal asks for.
//
// A catalog is one JSON file in this directory (en.json, zh-Hans.json):
// its BCP 47 tag, its own name for the language switch, and a flat map of
// message keys to templates. Templates carry named slots in braces
// ({name}, {n}) that a language may put in any order. A message that
// depends on a count has one key per CLDR plural form, "key|one",
// "key|other" and so on, and N picks the form the language's rules want;
// "|other" must always be there. Adding a language is adding its file:
// the embed below picks it up, the matcher learns its tag, and a test
// fails until it has every key English has.
package locale

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

//go:embed *.json
var files embed.FS

// Catalog is one language's messages.
type Catalog struct {
	// Lang is the catalog's BCP 47 tag: "en", "zh-Hans". Pages put it in
	// <html lang> and in the language cookie.
	Lang string
	// Name is the language's name in itself, for the language switch.
	Name string

	tag  language.Tag
	msgs map[string]string
}

// file is a catalog as it is written.
type file struct {
	Lang     string            `json:"lang"`
	Name     string            `json:"name"`
	Messages map[string]string `json:"messages"`
}

// English is the catalog every unmatched request gets, and the one whose
// keys every other catalog must have.
var English *Catalog

var (
	catalogs []*Catalog // English first: the matcher's fallback
	matcher  language.Matcher
)

func init() {
	names, err := files.ReadDir(".")
	if err != nil {
		panic(err)
	}
	for _, e := range names {
		c, err := load(e.Name())
		if err != nil {
			panic(err) // the files are embedded: a bad one never ships, the tests see it
		}
		catalogs = append(catalogs, c)
	}
	sort.SliceStable(catalogs, func(i, j int) bool { return catalogs[i].Lang == "en" && catalogs[j].Lang != "en" })
	English = catalogs[0]
	tags := make([]language.Tag, len(catalogs))
	for i, c := range catalogs {
		tags[i] = c.tag
	}
	matcher = language.NewMatcher(tags)
}

func load(name string) (*Catalog, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	tag, err := language.Parse(f.Lang)
	if err != nil || f.Lang+".json" != path.Base(name) {
		return nil, fmt.Errorf("%s: lang %q must be a BCP 47 tag that names the file", name, f.Lang)
	}
	return &Catalog{Lang: f.Lang, Name: f.Name, tag: tag, msgs: f.Messages}, nil
}

// All is every catalog, English first.
func All() []*Catalog { return catalogs }

// Match picks the catalog for the first preference that names a language
// there is a catalog for. Each preference is either a tag a person chose
// (the language cookie) or an Accept-Language header; an empty one is
// skipped. Nothing matched is English. Matching follows CLDR: "zh",
// "zh-CN" and "zh-SG" are Simplified Chinese.
func Match(prefs ...string) *Catalog {
	for _, p := range prefs {
		if p == "" {
			continue
		}
		tags, _, err := language.ParseAcceptLanguage(p)
		if err != nil || len(tags) == 0 {
			continue
		}
		if _, i, conf := matcher.Match(tags...); conf != language.No {
			return catalogs[i]
		}
	}
	return English
}

// FromEnv picks the catalog for a terminal by the POSIX locale variables,
// in the order the C library reads them: LC_ALL, LC_MESSAGES, LANG.
// "zh_CN.UTF-8" is Simplified Chinese; "C" and "POSIX" are English.
func FromEnv(getenv func(string) string) *Catalog {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		s := getenv(v)
		if s == "" {
			continue
		}
		s, _, _ = strings.Cut(s, ".") // the codeset
		s, _, _ = strings.Cut(s, "@") // the modifier
		if s == "C" || s == "POSIX" {
			return English
		}
		return Match(strings.ReplaceAll(s, "_", "-"))
	}
	return English
}

// Has reports whether the catalog has key (a plural key counts by its
// "|other" form).
func (c *Catalog) Has(key string) bool {
	_, ok := c.msgs[key]
	if !ok {
		_, ok = c.msgs[key+"|other"]
	}
	return ok
}

// T is the message key says, its slots filled from args, which alternate
// slot names (without braces) and values. A key the catalog lacks falls
// back to English, then to the key itself, so a gap shows rather than
// blanks the page; the tests keep there being none.
func (c *Catalog) T(key string, args ...string) string {
	return fill(c.lookup(key), args)
}

// N is T for a message that counts n: the plural form the language's
// rules pick for n, with {n} filled in too.
func (c *Catalog) N(key string, n int, args ...string) string {
	form := formNames[plural.Cardinal.MatchPlural(c.tag, n, 0, 0, 0, 0)]
	tmpl, ok := c.msgs[key+"|"+form]
	if !ok {
		tmpl = c.lookup(key + "|other")
	}
	return fill(tmpl, append([]string{"n", strconv.Itoa(n)}, args...))
}

// Prefixed is every message whose key starts with prefix, plural forms
// included: what a page hands its script as data.
func (c *Catalog) Prefixed(prefix string) map[string]string {
	m := make(map[string]string)
	for k, v := range c.msgs {
		if strings.HasPrefix(k, prefix) {
			m[k] = v
		}
	}
	return m
}

func (c *Catalog) lookup(key string) string {
	if s, ok := c.msgs[key]; ok {
		return s
	}
	if s, ok := English.msgs[key]; ok && c != English {
		return s
	}
	return key
}

// formNames are plural.Form's CLDR names, as the keys spell them.
var formNames = map[plural.Form]string{
	plural.Other: "other", plural.Zero: "zero", plural.One: "one",
	plural.Two: "two", plural.Few: "few", plural.Many: "many",
}

func fill(tmpl string, args []string) string {
	if len(args) == 0 || !strings.Contains(tmpl, "{") {
		return tmpl
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+args[i]+"}", args[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(tmpl)
}
