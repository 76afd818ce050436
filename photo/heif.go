package photo

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// This file reads the structure of a HEIF file (ISO/IEC 23008-12, an
// ISO-BMFF container): the 'ftyp' box, then the 'meta' box, which says
// which item is the primary image, how it is coded, how large it is
// ('ispe'), how it is turned ('irot', 'imir') and where every item's bytes
// are ('iloc'), the Exif and XMP items included. Like exif.go it reads
// hostile input: every size and offset is checked against what was read,
// loops are bounded by the bytes they walk, and nothing is allocated in
// proportion to a number read from the file.

// heifFile is what Process and StripLocation need from a HEIF header.
type heifFile struct {
	metaEnd int64 // offset just past the 'meta' box
	idatOff int64 // where the 'idat' payload starts (construction method 1), -1 if none
	idatLen int64

	primary *heifItem
	items   map[uint32]*heifItem
	order   []*heifItem // in 'iinf' order

	// While parsing: 'iloc' and 'iref' may come before 'iinf'.
	locs []heifLoc
	refs []heifRef

	// width and height of the primary image as displayed: its 'ispe'
	// turned by its 'irot'.
	width, height int
	// dataEnd is the end of the last byte any item's data takes in the
	// file: what the decoder is given (it needs the file whole).
	dataEnd int64
	// coded are the coded images the decoder decodes for the primary:
	// the image itself or its grid's tiles, and its alpha plane's.
	coded []*heifItem
	// alpha is the primary's alpha plane item, if any.
	alpha *heifItem
	// icc is the primary's ICC profile ('colr' of type 'prof'), if any.
	icc []byte
}

type heifItem struct {
	id              uint32
	typ             string // 'hvc1', 'grid', 'Exif', 'mime', 'av01', ...
	contentType     string // of a 'mime' item
	contentEncoding string

	method uint8 // iloc construction method: 0 file offset, 1 'idat'
	dref   uint16
	ext    []heifExtent
	inIloc bool

	props []uint16 // 1-based 'ipco' indexes, in 'ipma' order

	// Resolved properties.
	w, h     int   // 'ispe'; 0 if none
	rot      int   // 'irot': counter-clockwise quarter turns
	mirror   int   // 'imir': -1 none, else its axis
	turns    []int // transforms in order: 0-3 rotate, 4+axis mirror
	hevc     *hevcConfig
	alphaAux bool   // an 'auxC' naming an alpha plane
	icc      []byte // 'colr' 'prof'

	dimg []uint32 // 'iref' dimg: a grid's tiles, in order
	auxl []uint32 // 'iref' auxl: the images this auxiliary image is for
}

type heifExtent struct{ off, len int64 }

type heifLoc struct {
	id     uint32
	method uint8
	dref   uint16
	ext    []heifExtent
}

type heifRef struct {
	typ  string
	from uint32
	to   []uint32
}

// hevcConfig is what an 'hvcC' property says that the cost depends on.
type hevcConfig struct {
	chroma     int // chroma_format_idc: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4
	bitDepth   int // luma, 8..16
	spsW, spsH int // pic_width/height_in_luma_samples of its SPS
}

// Bounds on a HEIF header that no camera comes near. An iPhone photo has
// ~50 items (48 tiles of 512×512, Exif, XMP, a thumbnail); a 48 MP one
// ~200 tiles.
const (
	maxHEIFItems  = 4096
	maxHEIFProps  = 4096
	maxHEIFAssocs = 64   // properties of one item
	maxHEIFRefs   = 4096 // references from one item
	maxHEVCConfig = 64 << 10
)

// heifError is ErrCorrupt with a detail.
func heifError(format string, args ...any) error {
	return errorf(ErrCorrupt, "HEIF: "+format, args...)
}

// heifUnsupported is ErrUnsupported with a detail: a HEIF file this
// package does not handle (another codec, another layout).
func heifUnsupported(format string, args ...any) error {
	return errorf(ErrUnsupported, "HEIF: "+format, args...)
}

// boxHeader reads the header of the box at off in hd: its type, where its
// payload starts and where it ends (-1: to the end of the file).
func boxHeader(hd header, off int64) (typ string, body, end int64, ok bool) {
	b := hd.at(int(off), 8)
	if b == nil {
		return "", 0, 0, false
	}
	size := int64(binary.BigEndian.Uint32(b))
	typ, body = string(b[4:8]), off+8
	switch size {
	case 0:
		return typ, body, -1, true
	case 1:
		l := hd.at(int(off)+8, 8)
		if l == nil {
			return "", 0, 0, false
		}
		size = int64(binary.BigEndian.Uint64(l))
		body += 8
		if size < 16 || size > 1<<50 {
			return "", 0, 0, false
		}
	default:
		if size < 8 {
			return "", 0, 0, false
		}
	}
	return typ, body, off + size, true
}

// readHEIF reads the header of a HEIF file up to the end of its 'meta'
// box, through hd (which may read on into the stream, up to
// MaxHeaderBytes). With maxPixels > 0 it also checks what the decoder
// will be given (see check); StripLocation, which only needs to find the
// metadata, passes 0.
func readHEIF(hd header, maxPixels int64) (*heifFile, error) {
	typ, _, end, ok := boxHeader(hd, 0)
	if !ok || typ != "ftyp" || end < 16 {
		return nil, heifError("no ftyp box")
	}
	// Boxes before 'meta' ('free', or an 'mdat' that a writer put first)
	// are read through: the header bound (MaxHeaderBytes) still holds.
	for off := end; ; {
		typ, body, end, ok := boxHeader(hd, off)
		if !ok {
			if off+16 > MaxHeaderBytes {
				return nil, heifUnsupported("no metadata in the first %d MiB", MaxHeaderBytes>>20)
			}
			return nil, heifError("no meta box")
		}
		if end < 0 {
			return nil, heifError("no meta box before a box that runs to the end of the file")
		}
		if typ == "meta" {
			if end > MaxHeaderBytes {
				return nil, errHeaderTooLarge
			}
			if hd.at(int(body), int(end-body)) == nil {
				if end > MaxHeaderBytes-1 {
					return nil, errHeaderTooLarge
				}
				return nil, heifError("the file ends inside its meta box")
			}
			f, err := parseMeta(hd, body, end)
			if err != nil || maxPixels <= 0 {
				return f, err
			}
			return f, f.check(hd, maxPixels)
		}
		if end > MaxHeaderBytes {
			return nil, heifUnsupported("no metadata in the first %d MiB", MaxHeaderBytes>>20)
		}
		if hd.at(int(end)-1, 1) == nil {
			return nil, heifError("the file ends before its meta box")
		}
		off = end
	}
}

// bitReader reads the fields of a box's payload in order; a read past its
// end sets bad and returns 0.
type bitReader struct {
	b   []byte
	p   int
	bad bool
}

func (r *bitReader) n(k int) []byte {
	if r.bad || k < 0 || r.p+k > len(r.b) {
		r.bad = true
		return nil
	}
	s := r.b[r.p : r.p+k]
	r.p += k
	return s
}

func (r *bitReader) u8() uint32 {
	if b := r.n(1); b != nil {
		return uint32(b[0])
	}
	return 0
}

func (r *bitReader) u16() uint32 {
	if b := r.n(2); b != nil {
		return uint32(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *bitReader) u32() uint32 {
	if b := r.n(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// uN reads an unsigned field of 0, 4 or 8 bytes (iloc's sizes).
func (r *bitReader) uN(size int) int64 {
	switch size {
	case 0:
		return 0
	case 4:
		return int64(r.u32())
	case 8:
		if b := r.n(8); b != nil {
			v := binary.BigEndian.Uint64(b)
			if v > 1<<50 {
				r.bad = true
				return 0
			}
			return int64(v)
		}
		return 0
	}
	r.bad = true
	return 0
}

// cstring reads a NUL-terminated string (or the rest, if it has no NUL).
func (r *bitReader) cstring() string {
	if r.bad {
		return ""
	}
	rest := r.b[r.p:]
	for i, c := range rest {
		if c == 0 {
			r.p += i + 1
			return string(rest[:i])
		}
	}
	r.p = len(r.b)
	return string(rest)
}

// children walks the boxes in [off, end) of hd, which has them all.
func children(hd header, off, end int64, f func(typ string, body, end int64) error) error {
	for off < end {
		typ, body, bend, ok := boxHeader(hd, off)
		if !ok || bend < 0 || bend > end || body > bend {
			return heifError("box at %d overruns its parent", off)
		}
		if err := f(typ, body, bend); err != nil {
			return err
		}
		off = bend
	}
	return nil
}

func parseMeta(hd header, body, end int64) (*heifFile, error) {
	f := &heifFile{metaEnd: end, idatOff: -1, items: map[uint32]*heifItem{}}
	var (
		pitm    = int64(-1)
		handler string
		ipco    [][2]int64 // body, end of each property box
		ipcoTyp []string
		assocs  []struct {
			id    uint32
			props []uint16
		}
		haveIinf, haveIloc bool
	)
	payload := func(body, end int64) []byte { return hd.at(int(body), int(end-body)) }
	err := children(hd, body+4, end, func(typ string, body, end int64) error {
		r := &bitReader{b: payload(body, end)}
		switch typ {
		case "hdlr":
			r.n(8) // version, flags, pre_defined
			handler = string(r.n(4))
		case "pitm":
			v := r.u8()
			r.n(3)
			if v == 0 {
				pitm = int64(r.u16())
			} else {
				pitm = int64(r.u32())
			}
		case "iinf":
			if haveIinf {
				return heifError("two iinf boxes")
			}
			haveIinf = true
			v := r.u8()
			r.n(3)
			if v == 0 {
				r.u16()
			} else {
				r.u32()
			}
			if r.bad {
				return heifError("short iinf")
			}
			return children(hd, body+int64(r.p), end, func(typ string, body, end int64) error {
				if typ != "infe" {
					return nil
				}
				it, err := parseInfe(payload(body, end))
				if err != nil {
					return err
				}
				if f.items[it.id] != nil {
					return heifError("item %d listed twice", it.id)
				}
				if len(f.items) == maxHEIFItems {
					return heifError("more than %d items", maxHEIFItems)
				}
				f.items[it.id] = it
				f.order = append(f.order, it)
				return nil
			})
		case "iloc":
			if haveIloc {
				return heifError("two iloc boxes")
			}
			haveIloc = true
			return f.parseIloc(r)
		case "iref":
			return f.parseIref(r)
		case "idat":
			f.idatOff, f.idatLen = body, end-body
		case "iprp":
			return children(hd, body, end, func(typ string, body, end int64) error {
				switch typ {
				case "ipco":
					return children(hd, body, end, func(typ string, body, end int64) error {
						if len(ipco) == maxHEIFProps {
							return heifError("more than %d properties", maxHEIFProps)
						}
						ipco = append(ipco, [2]int64{body, end})
						ipcoTyp = append(ipcoTyp, typ)
						return nil
					})
				case "ipma":
					r := &bitReader{b: payload(body, end)}
					v := r.u8()
					flags := r.n(3)
					n := r.u32()
					for i := uint32(0); i < n && !r.bad; i++ {
						var id uint32
						if v < 1 {
							id = r.u16()
						} else {
							id = r.u32()
						}
						k := int(r.u8())
						if k > maxHEIFAssocs {
							return heifError("item %d has %d properties", id, k)
						}
						props := make([]uint16, 0, k)
						for j := 0; j < k && !r.bad; j++ {
							var p uint32
							if flags != nil && flags[2]&1 != 0 {
								p = r.u16() & 0x7FFF
							} else {
								p = r.u8() & 0x7F
							}
							props = append(props, uint16(p))
						}
						assocs = append(assocs, struct {
							id    uint32
							props []uint16
						}{id, props})
						if len(assocs) > maxHEIFItems*2 {
							return heifError("too many property associations")
						}
					}
					if r.bad {
						return heifError("short ipma")
					}
				}
				return nil
			})
		}
		if r.bad {
			return heifError("short %s box", typ)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if handler != "pict" {
		return nil, heifUnsupported("handler %q is not an image", handler)
	}
	if !haveIinf || !haveIloc || pitm < 0 {
		return nil, heifError("no iinf, iloc or pitm")
	}
	f.primary = f.items[uint32(pitm)]
	if f.primary == nil {
		return nil, heifError("the primary item %d is not listed", pitm)
	}
	for _, a := range assocs {
		if it := f.items[a.id]; it != nil {
			if len(it.props)+len(a.props) > maxHEIFAssocs {
				return nil, heifError("item %d has too many properties", a.id)
			}
			it.props = append(it.props, a.props...)
		}
	}
	for _, l := range f.locs {
		if it := f.items[l.id]; it != nil {
			if it.inIloc {
				return nil, heifError("item %d located twice", l.id)
			}
			it.inIloc, it.method, it.dref, it.ext = true, l.method, l.dref, l.ext
		}
	}
	for _, ref := range f.refs {
		it := f.items[ref.from]
		switch {
		case it == nil:
		case ref.typ == "dimg":
			if len(it.dimg)+len(ref.to) > maxHEIFRefs {
				return nil, heifError("item %d has too many references", ref.from)
			}
			it.dimg = append(it.dimg, ref.to...)
		case ref.typ == "auxl":
			it.auxl = append(it.auxl, ref.to...)
		}
	}
	f.locs, f.refs = nil, nil
	// Resolve the properties each item uses.
	hevc := map[uint16]*hevcConfig{}
	for _, it := range f.order {
		it.mirror = -1
		for _, p := range it.props {
			if p == 0 {
				continue // "no property"
			}
			if int(p) > len(ipco) {
				return nil, heifError("item %d names property %d of %d", it.id, p, len(ipco))
			}
			body, end := ipco[p-1][0], ipco[p-1][1]
			r := &bitReader{b: payload(body, end)}
			switch ipcoTyp[p-1] {
			case "ispe":
				r.n(4)
				w, h := r.u32(), r.u32()
				if r.bad || w == 0 || h == 0 || w > 1<<30 || h > 1<<30 {
					return nil, heifError("item %d: ispe %dx%d", it.id, w, h)
				}
				it.w, it.h = int(w), int(h)
			case "irot":
				a := int(r.u8() & 3)
				it.rot = (it.rot + a) % 4
				it.turns = append(it.turns, a)
			case "imir":
				a := int(r.u8() & 1)
				it.mirror = a
				it.turns = append(it.turns, 4+a)
			case "hvcC":
				c, ok := hevc[p]
				if !ok {
					if end-body > maxHEVCConfig {
						return nil, heifError("item %d: hvcC of %d bytes", it.id, end-body)
					}
					var err error
					if c, err = parseHVCC(r.b); err != nil {
						return nil, err
					}
					hevc[p] = c
				}
				it.hevc = c
			case "auxC":
				r.n(4)
				urn := r.cstring()
				it.alphaAux = urn == "urn:mpeg:hevc:2015:auxid:1" || urn == "urn:mpeg:mpegB:cicp:systems:auxiliary:alpha"
			case "colr":
				if t := string(r.n(4)); t == "prof" || t == "rICC" {
					it.icc = r.b[4:]
				}
			}
			if r.bad {
				return nil, heifError("item %d: short %s", it.id, ipcoTyp[p-1])
			}
		}
	}
	return f, nil
}

// parseInfe reads an item info entry (versions 2 and 3; 0 and 1, which
// have no item type, are taken as 'mime' items).
func parseInfe(b []byte) (*heifItem, error) {
	r := &bitReader{b: b}
	v := r.u8()
	r.n(3)
	it := &heifItem{}
	switch {
	case v < 2:
		it.id = r.u16()
		r.u16() // protection index
		r.cstring()
		it.typ = "mime"
		it.contentType = r.cstring()
		it.contentEncoding = r.cstring()
	default:
		if v == 2 {
			it.id = r.u16()
		} else {
			it.id = r.u32()
		}
		r.u16()
		it.typ = string(r.n(4))
		r.cstring() // item name
		if it.typ == "mime" {
			it.contentType = r.cstring()
			it.contentEncoding = r.cstring()
		}
	}
	if r.bad {
		return nil, heifError("short infe")
	}
	return it, nil
}

func (f *heifFile) parseIloc(r *bitReader) error {
	v := r.u8()
	r.n(3)
	if v > 2 {
		return heifError("iloc version %d", v)
	}
	s := r.u16()
	offSize, lenSize, baseSize, idxSize := int(s>>12), int(s>>8&15), int(s>>4&15), int(s&15)
	if v == 0 {
		idxSize = 0
	}
	var n uint32
	if v < 2 {
		n = r.u16()
	} else {
		n = r.u32()
	}
	for i := uint32(0); i < n && !r.bad; i++ {
		var id uint32
		if v < 2 {
			id = r.u16()
		} else {
			id = r.u32()
		}
		var method uint8
		if v > 0 {
			method = uint8(r.u16() & 15)
		}
		dref := uint16(r.u16())
		base := r.uN(baseSize)
		k := int(r.u16())
		if k > maxHEIFRefs {
			return heifError("item %d in %d extents", id, k)
		}
		ext := make([]heifExtent, 0, k)
		for j := 0; j < k && !r.bad; j++ {
			if idxSize > 0 {
				r.uN(idxSize)
			}
			o, l := r.uN(offSize), r.uN(lenSize)
			ext = append(ext, heifExtent{base + o, l})
		}
		if len(f.locs) == maxHEIFItems {
			return heifError("more than %d items located", maxHEIFItems)
		}
		f.locs = append(f.locs, heifLoc{id, method, dref, ext})
	}
	if r.bad {
		return heifError("short iloc")
	}
	return nil
}

func (f *heifFile) parseIref(r *bitReader) error {
	v := r.u8()
	r.n(3)
	id := func() uint32 {
		if v == 0 {
			return r.u16()
		}
		return r.u32()
	}
	for r.p < len(r.b) && !r.bad {
		size := int(r.u32())
		typ := string(r.n(4))
		start := r.p - 8
		from := id()
		n := int(r.u16())
		if n > maxHEIFRefs {
			return heifError("item %d has %d references", from, n)
		}
		to := make([]uint32, 0, n)
		for j := 0; j < n && !r.bad; j++ {
			to = append(to, id())
		}
		if r.bad || size < 8 || start+size > len(r.b) {
			return heifError("short iref")
		}
		r.p = start + size
		if typ == "dimg" || typ == "auxl" {
			if len(f.refs) == maxHEIFItems {
				return heifError("more than %d references", maxHEIFItems)
			}
			f.refs = append(f.refs, heifRef{typ, from, to})
		}
	}
	if r.bad {
		return heifError("short iref")
	}
	return nil
}

// parseHVCC reads an HEVC decoder configuration record and the first SPS
// in it.
func parseHVCC(b []byte) (*hevcConfig, error) {
	if len(b) < 23 {
		return nil, heifError("short hvcC")
	}
	c := &hevcConfig{chroma: int(b[16] & 3), bitDepth: int(b[17]&7) + 8}
	r := &bitReader{b: b, p: 22}
	arrays := int(r.u8())
	for i := 0; i < arrays && !r.bad; i++ {
		t := r.u8() & 0x3F
		n := int(r.u16())
		for j := 0; j < n && !r.bad; j++ {
			nal := r.n(int(r.u16()))
			if t == 33 && c.spsW == 0 && nal != nil { // SPS_NUT
				if !parseSPS(nal, c) {
					return nil, heifError("unreadable SPS")
				}
			}
		}
	}
	if r.bad || c.spsW == 0 {
		return nil, heifError("hvcC without a readable SPS")
	}
	return c, nil
}

// expGolomb reads the bits of an H.265 RBSP: emulation prevention bytes
// (00 00 03) are skipped as it goes.
type expGolomb struct {
	b     []byte
	byte  int
	bit   uint
	zeros int
	bad   bool
}

func (g *expGolomb) u1() uint32 {
	if g.byte >= len(g.b) {
		g.bad = true
		return 0
	}
	if g.bit == 0 {
		if g.zeros >= 2 && g.b[g.byte] == 3 {
			g.byte++
			g.zeros = 0
			if g.byte >= len(g.b) {
				g.bad = true
				return 0
			}
		}
		if g.b[g.byte] == 0 {
			g.zeros++
		} else {
			g.zeros = 0
		}
	}
	v := uint32(g.b[g.byte]>>(7-g.bit)) & 1
	if g.bit++; g.bit == 8 {
		g.bit = 0
		g.byte++
	}
	return v
}

func (g *expGolomb) u(n int) uint32 {
	var v uint32
	for range n {
		v = v<<1 | g.u1()
	}
	return v
}

func (g *expGolomb) skip(n int) {
	for range n {
		g.u1()
	}
}

func (g *expGolomb) ue() uint32 {
	lead := 0
	for g.u1() == 0 {
		if lead++; lead > 31 || g.bad {
			g.bad = true
			return 0
		}
	}
	return 1<<lead - 1 + g.u(lead)
}

// parseSPS reads what an HEVC sequence parameter set says of the picture
// the decoder will allocate (H.265 7.3.2.2): its size, chroma format and
// bit depth.
func parseSPS(nal []byte, c *hevcConfig) bool {
	if len(nal) < 3 {
		return false
	}
	g := &expGolomb{b: nal[2:]} // past the NAL unit header
	g.skip(4)                   // sps_video_parameter_set_id
	subLayers := int(g.u(3))    // sps_max_sub_layers_minus1
	g.skip(1)
	// profile_tier_level(1, subLayers)
	g.skip(88 + 8)
	profile := make([]bool, subLayers)
	level := make([]bool, subLayers)
	for i := range subLayers {
		profile[i], level[i] = g.u1() == 1, g.u1() == 1
	}
	if subLayers > 0 {
		g.skip(2 * (8 - subLayers))
	}
	for i := range subLayers {
		if profile[i] {
			g.skip(88)
		}
		if level[i] {
			g.skip(8)
		}
	}
	g.ue() // sps_seq_parameter_set_id
	chroma := g.ue()
	if chroma == 3 {
		g.skip(1) // separate_colour_plane_flag
	}
	w, h := g.ue(), g.ue()
	if g.u1() == 1 { // conformance_window_flag
		g.ue()
		g.ue()
		g.ue()
		g.ue()
	}
	depth := g.ue() + 8
	if g.bad || chroma > 3 || w == 0 || h == 0 || w > 1<<16 || h > 1<<16 || depth > 16 {
		return false
	}
	c.chroma, c.spsW, c.spsH, c.bitDepth = int(chroma), int(w), int(h), max(c.bitDepth, int(depth))
	return true
}

// check resolves the primary image and refuses what the decoder should
// never be given: a primary coded otherwise than in HEVC, coded images
// larger than maxPixels or whose SPS is larger than their 'ispe' (the
// decoder allocates by the SPS), grids with tiles beyond their output.
func (f *heifFile) check(hd header, maxPixels int64) error {
	p := f.primary
	switch p.typ {
	case "hvc1", "grid":
	case "av01":
		return heifUnsupported("AVIF is not supported")
	default:
		return heifUnsupported("primary image of type %q", p.typ)
	}
	if p.w == 0 {
		return heifError("the primary image has no ispe")
	}
	f.width, f.height = p.w, p.h
	if p.rot%2 == 1 {
		f.width, f.height = p.h, p.w
	}
	if px := int64(p.w) * int64(p.h); px > maxPixels {
		return errorf(ErrTooManyPixels, "%dx%d is %s pixels, the limit is %s",
			f.width, f.height, pixels(px), pixels(maxPixels))
	}
	f.icc = p.icc
	images := []*heifItem{p}
	for _, it := range f.order {
		if it.alphaAux && slices.Contains(it.auxl, p.id) && (it.typ == "hvc1" || it.typ == "grid") {
			f.alpha = it
			images = append(images, it)
			break
		}
	}
	for _, img := range images {
		if img.w == 0 {
			return heifError("item %d has no ispe", img.id)
		}
		if px := int64(img.w) * int64(img.h); px > maxPixels {
			return errorf(ErrTooManyPixels, "item %d is %dx%d, the limit is %s pixels", img.id, img.w, img.h, pixels(maxPixels))
		}
		if img.typ == "hvc1" {
			if err := f.coded1(img, maxPixels); err != nil {
				return err
			}
			continue
		}
		if err := f.grid(hd, img, maxPixels); err != nil {
			return err
		}
	}
	// Every item's data, as the decoder is given the file up to the last
	// of it.
	decoded := map[*heifItem]bool{p: true}
	for _, it := range f.coded {
		decoded[it] = true
	}
	for _, it := range f.order {
		if !it.inIloc {
			if decoded[it] {
				return heifError("item %d has no location", it.id)
			}
			continue
		}
		if it.dref != 0 {
			return heifUnsupported("item %d is in another file", it.id)
		}
		for _, e := range it.ext {
			if e.len == 0 {
				return heifUnsupported("item %d runs to the end of the file", it.id)
			}
			switch it.method {
			case 0:
				f.dataEnd = max(f.dataEnd, e.off+e.len)
			case 1:
				if f.idatOff < 0 || e.off+e.len > f.idatLen {
					return heifError("item %d lies outside idat", it.id)
				}
			default:
				return heifUnsupported("item %d is built from other items", it.id)
			}
		}
	}
	f.dataEnd = max(f.dataEnd, f.metaEnd)
	return nil
}

// coded1 checks an HEVC-coded image and adds it to what is decoded.
func (f *heifFile) coded1(it *heifItem, maxPixels int64) error {
	if it.typ != "hvc1" {
		return heifUnsupported("item %d of type %q in a grid", it.id, it.typ)
	}
	if it.w == 0 {
		return heifError("item %d has no ispe", it.id)
	}
	c := it.hevc
	if c == nil {
		return heifError("item %d has no hvcC", it.id)
	}
	// The SPS may pad to whole coding blocks (up to 64), never more.
	if c.spsW > align(it.w, 64) || c.spsH > align(it.h, 64) {
		return heifError("item %d: its SPS says %dx%d, its ispe %dx%d", it.id, c.spsW, c.spsH, it.w, it.h)
	}
	if int64(c.spsW)*int64(c.spsH) > maxPixels {
		return errorf(ErrTooManyPixels, "item %d is %dx%d, the limit is %s pixels", it.id, c.spsW, c.spsH, pixels(maxPixels))
	}
	f.coded = append(f.coded, it)
	return nil
}

// grid reads a grid's descriptor (from 'idat', or from the file if it
// lies within the header bound) and checks its tiles.
func (f *heifFile) grid(hd header, g *heifItem, maxPixels int64) error {
	if len(g.ext) != 1 || g.ext[0].len < 8 || g.ext[0].len > 12 {
		return heifError("grid %d: descriptor of %d extents", g.id, len(g.ext))
	}
	off := g.ext[0].off
	switch g.method {
	case 0:
	case 1:
		if f.idatOff < 0 {
			return heifError("grid %d: no idat", g.id)
		}
		off += f.idatOff
	default:
		return heifUnsupported("grid %d is built from other items", g.id)
	}
	if off+g.ext[0].len > MaxHeaderBytes {
		return heifUnsupported("grid %d: descriptor past the first %d MiB", g.id, MaxHeaderBytes>>20)
	}
	d := hd.at(int(off), int(g.ext[0].len))
	if d == nil {
		return heifError("grid %d: the file ends before its descriptor", g.id)
	}
	r := &bitReader{b: d}
	r.u8() // version
	flags := r.u8()
	rows, cols := int(r.u8())+1, int(r.u8())+1
	var w, h int64
	if flags&1 != 0 {
		w, h = int64(r.u32()), int64(r.u32())
	} else {
		w, h = int64(r.u16()), int64(r.u16())
	}
	if r.bad || w != int64(g.w) || h != int64(g.h) {
		return heifError("grid %d: descriptor says %dx%d, ispe %dx%d", g.id, w, h, g.w, g.h)
	}
	if len(g.dimg) != rows*cols {
		return heifError("grid %d: %d×%d tiles, %d given", g.id, cols, rows, len(g.dimg))
	}
	var tw, th int
	for i, id := range g.dimg {
		t := f.items[id]
		if t == nil {
			return heifError("grid %d: tile %d missing", g.id, id)
		}
		if i == 0 {
			tw, th = t.w, t.h
		}
		if t.w != tw || t.h != th {
			return heifError("grid %d: tiles of different sizes", g.id)
		}
		if err := f.coded1(t, maxPixels); err != nil {
			return err
		}
	}
	// The tiles cover the output, and no whole row or column of them lies
	// beyond it: they are not a way to decode more than the image shows.
	if int64(tw)*int64(cols) < w || int64(th)*int64(rows) < h ||
		int64(tw)*int64(cols-1) >= w || int64(th)*int64(rows-1) >= h {
		return heifError("grid %d: %d×%d tiles of %dx%d for %dx%d", g.id, cols, rows, tw, th, w, h)
	}
	return nil
}

func align(v, a int) int { return (v + a - 1) / a * a }

// metadataPatch is a byte range of the file that StripLocation rewrites:
// an Exif item's GPS, an XMP item's packet.
type metadataPatch struct {
	off, len int64
	xmp      bool  // replace it (fill); otherwise it is Exif: clear its GPS (apply)
	zero     bool  // compressed XMP: replaced by zeros
	done     int64 // XMP: bytes of it already replaced
}

// patches lists the ranges of the file that carry location: every Exif
// item's and every XMP item's data. Metadata in a layout it cannot clean
// (in several pieces, built from other items, in another file) is refused
// rather than kept.
func (f *heifFile) patches() ([]metadataPatch, error) {
	var ps []metadataPatch
	for _, it := range f.order {
		exif := it.typ == "Exif"
		xmp := it.typ == "mime" && it.contentType == "application/rdf+xml"
		if !exif && !xmp || !it.inIloc {
			continue
		}
		if it.dref != 0 || it.method > 1 || len(it.ext) > 1 {
			return nil, heifUnsupported("location metadata (item %d) in a layout that cannot be cleaned", it.id)
		}
		if len(it.ext) == 0 {
			continue
		}
		e := it.ext[0]
		if e.len == 0 {
			return nil, heifUnsupported("item %d runs to the end of the file", it.id)
		}
		if it.method == 1 {
			if f.idatOff < 0 || e.off+e.len > f.idatLen {
				return nil, heifError("item %d lies outside idat", it.id)
			}
			e.off += f.idatOff
		}
		if exif && e.len > maxExifChunk {
			return nil, heifUnsupported("Exif item of %d bytes is too large to clean", e.len)
		}
		ps = append(ps, metadataPatch{off: e.off, len: e.len, xmp: xmp, zero: xmp && it.contentEncoding != ""})
	}
	slices.SortFunc(ps, func(a, b metadataPatch) int { return cmp.Compare(a.off, b.off) })
	for i := 1; i < len(ps); i++ {
		if ps[i].off < ps[i-1].off+ps[i-1].len {
			return nil, heifError("metadata items overlap")
		}
	}
	return ps, nil
}

// apply cleans p, the bytes of an Exif item, in place: its GPS IFD is
// emptied. An item cut short (the file ends inside it) is zeroed where it
// cannot be read.
func (m metadataPatch) apply(p []byte) {
	// An Exif item starts with the offset of the TIFF header from the end
	// of that field (ISO/IEC 23008-12 A.2.1), usually 6: "Exif\0\0".
	if len(p) < 4 {
		clear(p)
		return
	}
	off := int64(binary.BigEndian.Uint32(p))
	if 4+off > int64(len(p)) || int64(len(p)) < m.len {
		clear(p) // no TIFF where it says, or cut short: nothing of it is kept
		return
	}
	if clearGPS(p[4+off:]) == 0 {
		clearGPS(p[4:]) // a writer that put "Exif\0\0" but counted 0
	}
}

// fill writes into p the bytes [from, from+len(p)) of what replaces an
// XMP item of m.len bytes: an empty packet padded with spaces before its
// closing processing instruction (as emitBlankXMP writes), or zeros for a
// compressed one.
func (m metadataPatch) fill(p []byte, from int64) {
	if m.zero {
		clear(p)
		return
	}
	head, tail := "", ""
	switch {
	case m.len >= int64(len(xmpPacketHead)+len(xmpPacketTail)):
		head, tail = xmpPacketHead, xmpPacketTail
	case m.len >= int64(len(xmpBare)):
		head = xmpBare
	}
	tailAt := m.len - int64(len(tail))
	for i := range p {
		switch at := from + int64(i); {
		case at < int64(len(head)):
			p[i] = head[at]
		case at >= tailAt:
			p[i] = tail[at-tailAt]
		default:
			p[i] = ' '
		}
	}
}

// orientation is the Exif orientation (1..8) that the primary's 'irot'
// and 'imir' transforms amount to, for Info: the decoder applies them.
func (f *heifFile) orientation() int {
	// Compose the transforms on a marker: where the stored top-left and
	// top-right corners end up identifies one of the 8 orientations.
	type pt struct{ x, y int } // in a 2×2 frame, centred: ±1
	a, b := pt{-1, -1}, pt{1, -1}
	for _, t := range f.primary.turns {
		switch {
		case t < 4:
			for range t { // counter-clockwise quarter turn (y down)
				a, b = pt{a.y, -a.x}, pt{b.y, -b.x}
			}
		case t == 4: // libheif: axis 0 mirrors top and bottom
			a, b = pt{a.x, -a.y}, pt{b.x, -b.y}
		default: // axis 1 mirrors left and right
			a, b = pt{-a.x, a.y}, pt{-b.x, b.y}
		}
	}
	// The orientation tag names where the stored image's first row and
	// column go: find the one that maps the corners the same way.
	for o := 1; o <= 8; o++ {
		if oa, ob := exifCorner(o, -1, -1), exifCorner(o, 1, -1); oa == [2]int{a.x, a.y} && ob == [2]int{b.x, b.y} {
			return o
		}
	}
	return 1
}

// exifCorner is where the stored point (x, y) of a centred 2×2 frame is
// shown under Exif orientation o.
func exifCorner(o, x, y int) [2]int {
	switch o {
	case 2:
		return [2]int{-x, y}
	case 3:
		return [2]int{-x, -y}
	case 4:
		return [2]int{x, -y}
	case 5:
		return [2]int{y, x}
	case 6:
		return [2]int{-y, x}
	case 7:
		return [2]int{-y, -x}
	case 8:
		return [2]int{y, -x}
	}
	return [2]int{x, y}
}
