package flatimage

// JPEG describes a JPEG of a flat mid-grey image: every block has DC 0 and
// no AC coefficients, coded with one-symbol Huffman tables (a 1-bit code),
// so a block is 2 bits (baseline) or 1 bit per scan (progressive).
//
// The zero value is not a valid JPEG: W, H and Sampling must be set.
type JPEG struct {
	// W and H are the image's width and height in pixels (1 to 65535).
	W, H int
	// Progressive writes a progressive (SOF2) JPEG: one interleaved DC
	// scan, then one AC scan per component. Otherwise it is baseline
	// (SOF0) with one interleaved scan.
	Progressive bool
	// Sampling is one byte per component, 0xHV: its horizontal and
	// vertical sampling factors. Three components are YCbCr (or RGB, by
	// IDs or Adobe), one grey, four CMYK or YCCK (with Adobe).
	Sampling []byte
	// IDs are the component identifiers; 1, 2, ... if nil.
	IDs []byte
	// JFIF writes a JFIF APP0 segment.
	JFIF bool
	// Adobe writes an Adobe APP14 segment with Transform.
	Adobe bool
	// Transform is the Adobe segment's colour transform: 0 is none (RGB
	// or CMYK), 1 YCbCr, 2 YCCK.
	Transform byte
}

// Encode returns the JPEG file.
func (f JPEG) Encode() []byte {
	n := len(f.Sampling)
	b := []byte{0xFF, 0xD8}
	if f.JFIF {
		b = append(b, jpegSegment(0xE0, []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"))...)
	}
	if f.Adobe {
		b = append(b, jpegSegment(0xEE, []byte{'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, f.Transform})...)
	}
	dqt := make([]byte, 65)
	for i := 1; i < 65; i++ {
		dqt[i] = 1
	}
	b = append(b, jpegSegment(0xDB, dqt)...)
	sof := []byte{8, byte(f.H >> 8), byte(f.H), byte(f.W >> 8), byte(f.W), byte(n)}
	for i, s := range f.Sampling {
		id := byte(i + 1)
		if f.IDs != nil {
			id = f.IDs[i]
		}
		sof = append(sof, id, s, 0)
	}
	marker := byte(0xC0)
	if f.Progressive {
		marker = 0xC2
	}
	b = append(b, jpegSegment(marker, sof)...)
	// DC table 0 and AC table 0, each a single 1-bit code for symbol 0
	// (DC difference category 0; AC end of block).
	one := append([]byte{1}, make([]byte, 15)...)
	b = append(b, jpegSegment(0xC4, append(append([]byte{0x00}, one...), 0))...)
	b = append(b, jpegSegment(0xC4, append(append([]byte{0x10}, one...), 0))...)

	hmax, vmax := 1, 1
	for _, s := range f.Sampling {
		hmax, vmax = max(hmax, int(s>>4)), max(vmax, int(s&15))
	}
	if n == 1 {
		hmax, vmax = 1, 1
	}
	mxx, myy := (f.W+8*hmax-1)/(8*hmax), (f.H+8*vmax-1)/(8*vmax)
	interleaved := 0 // blocks in one scan of all components
	for _, s := range f.Sampling {
		if n == 1 {
			s = 0x11
		}
		interleaved += mxx * myy * int(s>>4) * int(s&15)
	}
	sos := func(comps []int, ss, se byte) {
		p := []byte{byte(len(comps))}
		for _, c := range comps {
			p = append(p, byte(c+1), 0x00)
			if f.IDs != nil {
				p[len(p)-2] = f.IDs[c]
			}
		}
		b = append(b, jpegSegment(0xDA, append(p, ss, se, 0))...)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	if !f.Progressive {
		sos(all, 0, 63)
		b = append(b, zeroBits(2*interleaved)...)
	} else {
		sos(all, 0, 0)
		b = append(b, zeroBits(interleaved)...)
		for c, s := range f.Sampling {
			hi, vi := int(s>>4), int(s&15)
			if n == 1 {
				hi, vi = 1, 1
			}
			// A non-interleaved scan has the blocks image/jpeg visits:
			// those starting inside the image (see its processSOS).
			blocks := 0
			q := mxx * hi
			for i := range mxx * myy * hi * vi {
				if (i%q)*8 < f.W && (i/q)*8 < f.H {
					blocks++
				}
			}
			sos([]int{c}, 1, 63)
			b = append(b, zeroBits(blocks)...)
		}
	}
	return append(b, 0xFF, 0xD9)
}

// jpegSegment builds a JPEG marker segment.
func jpegSegment(marker byte, payload []byte) []byte {
	l := len(payload) + 2
	return append([]byte{0xFF, marker, byte(l >> 8), byte(l)}, payload...)
}

// zeroBits is n zero bits of entropy-coded data, padded with ones.
func zeroBits(n int) []byte {
	b := make([]byte, (n+7)/8)
	if r := n % 8; r != 0 {
		b[len(b)-1] = 0xFF >> r
	}
	return b
}
