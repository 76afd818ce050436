package photo

// StripLocation for HEIC. A HEIF file says where every item's bytes are in
// its 'meta' box, which iPhones (and libheif, and every phone seen) write
// right after 'ftyp', before the 'mdat' that holds the data. So the
// filter holds the stream up to the end of 'meta' (at most MaxHeaderBytes,
// whatever comes before 'meta' included), finds the Exif and XMP items
// there, writes what it holds, and then copies the rest through, cleaning
// each metadata item in place as it passes: an Exif item (at most 1 MiB)
// is held to empty its GPS IFD, as in a JPEG; an XMP packet is replaced
// as it streams by an empty one padded with spaces to the same length (a
// compressed one by zeros). Nothing changes length, so no offset in
// 'iloc' moves. Metadata whose data comes before the end of 'meta' is
// cleaned in what is held. A file whose 'meta' box does not end within
// MaxHeaderBytes, or whose metadata is in a layout that cannot be cleaned
// in place (in several extents, built from other items, in another file,
// Exif over 1 MiB), is refused rather than stored with its location.

// heifBox holds the next top-level box while looking for 'meta'.
func (s *scanner) heifBox() {
	start := int64(len(s.held))
	s.collect(8, func(b []byte) {
		s.held = append(s.held, b...)
		switch be32(b) {
		case 0: // to the end of the file: no meta can follow
			s.fail("HEIF: no meta box before a box that runs to the end of the file")
		case 1: // a 64-bit size follows
			s.collect(8, func(l []byte) {
				s.held = append(s.held, l...)
				s.heifBoxBody(start)
			})
		default:
			s.heifBoxBody(start)
		}
	})
}

// heifBoxBody holds the body of the top-level box at start, whose header
// is held, then parses the header if that box was 'meta'.
func (s *scanner) heifBoxBody(start int64) {
	typ, _, end, ok := boxHeader(fixedHeader(s.held), start)
	switch {
	case !ok || end < int64(len(s.held)):
		s.fail("HEIF: bad box header at %d", start)
		return
	case start == 0 && typ != "ftyp":
		s.fail("HEIF: no ftyp box")
		return
	case end > MaxHeaderBytes:
		s.err = heifUnsupported("no metadata in the first %d MiB", MaxHeaderBytes>>20)
		return
	}
	s.collect(int(end)-len(s.held), func(p []byte) {
		s.held = append(s.held, p...)
		if typ == "meta" {
			s.heifMeta()
			return
		}
		s.heifBox()
	})
}

// heifMeta parses the held header, cleans what of the metadata lies in
// it, writes it, and goes on with the rest of the stream.
func (s *scanner) heifMeta() {
	f, err := readHEIF(fixedHeader(s.held), 0)
	if err == nil {
		s.patches, err = f.patches()
	}
	if err != nil {
		s.err = err
		return
	}
	s.headerDone = true
	s.pos = int64(len(s.held))
	// An Exif item that starts in the held bytes and runs past them is
	// held whole first (it is at most maxExifChunk).
	need := s.pos
	for _, p := range s.patches {
		if p.off < s.pos && !p.xmp {
			need = max(need, p.off+p.len)
		}
	}
	if need == s.pos {
		s.heifFlushHeld()
		return
	}
	more := func(p []byte) {
		s.held = append(s.held, p...)
		s.pos = int64(len(s.held))
		s.heifFlushHeld()
	}
	s.collectOr(int(need-s.pos), more, func(p []byte) {
		// The file ends inside it: it is cleaned with what came.
		more(p)
	})
}

// heifFlushHeld cleans the metadata that lies in the held bytes, writes
// them, and schedules the rest.
func (s *scanner) heifFlushHeld() {
	for len(s.patches) > 0 && s.patches[0].off < s.pos {
		p := s.patches[0]
		end := min(p.off+p.len, s.pos)
		if !p.xmp {
			s.patches = s.patches[1:]
			p.apply(s.held[p.off:end])
			continue
		}
		// An XMP item is blanked over what is held; the rest of it, if
		// any, as it streams.
		p.fill(s.held[p.off:end], 0)
		if end == p.off+p.len {
			s.patches = s.patches[1:]
			continue
		}
		s.patches[0].done = end - p.off
		break
	}
	s.emit(s.held)
	s.held = nil
	s.heifNext()
}

// heifNext copies through to the next metadata item, then cleans it.
func (s *scanner) heifNext() {
	if s.err != nil {
		return
	}
	if len(s.patches) == 0 {
		s.rest()
		return
	}
	p := s.patches[0]
	start := p.off + p.done
	s.pass(start-s.pos, func() {
		s.pos = start
		s.patches = s.patches[1:]
		n := p.len - p.done
		if p.xmp {
			s.heifFillXMP(p, p.done)
			return
		}
		clean := func(b []byte) {
			p.apply(b)
			s.emit(b)
			s.pos += int64(len(b))
		}
		s.collectOr(int(n), func(b []byte) {
			clean(b)
			s.heifNext()
		}, func(b []byte) {
			// The file ends inside the item: nothing of it is kept.
			clear(b)
			clean(b)
		})
	})
}

// heifFillXMP replaces the bytes [from, p.len) of XMP item p as they
// come, a few KiB at a time: it is never held whole, and a stream that
// ends inside it gets as many bytes out as went in.
func (s *scanner) heifFillXMP(p metadataPatch, from int64) {
	if from == p.len {
		s.heifNext()
		return
	}
	k := min(p.len-from, 4096)
	out := func(b []byte) {
		p.fill(b, from)
		s.emit(b)
		s.pos += int64(len(b))
	}
	s.collectOr(int(k), func(b []byte) {
		out(b)
		s.heifFillXMP(p, from+k)
	}, out)
}
