// Copyright 2012 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Changed for qrsync (photo/internal/jpegscale): copied from Go 1.26's
// image/jpeg/scan.go. makeImg chooses each component's output block size
// and allocates the image at 1/d.scale of the full size, and
// reconstructBlock writes each block at that size through the reduced
// inverse DCTs of idctred.go. A sequential scan's blocks are decoded by
// decodeBlock, a fast path that keeps the bit accumulator in registers,
// stores only the coefficients that the scale needs, and dequantizes them
// as it stores them; progressive scans, and the end of a sequential
// scan's data, take image/jpeg's code (decodeAC, refine).

package jpegscale

import (
	"encoding/binary"
	"image"
)

// makeImg allocates and initializes the destination image, at 1/d.scale of
// the full size, and sets each component's output block size d.bw, d.bh.
//
// The first component's 8x8 blocks become d.bs x d.bs pixels (bs = 8/scale)
// and the visible rectangle is the full one divided by d.scale, rounded up.
// A subsampled component (chroma) keeps more of its resolution, as libjpeg
// does (jdmaster.c: "we try to scale up the chroma components via IDCT
// scaling rather than upsampling"): a component with half the horizontal
// sampling gets blocks twice as wide, min(8, 2*bs), and so on. At scale 1
// nothing changes; at 1/2, a 4:2:0 file's chroma is reconstructed with the
// full 8x8 IDCT and the result is 4:4:4. The image's subsampling ratio is
// the resulting ratio of luma to chroma output resolution, which is always
// one that image.YCbCr supports (the chroma ratio only shrinks).
func (d *decoder) makeImg(mxx, myy int) {
	bs := d.bs
	h0, v0 := d.comp[0].h, d.comp[0].v
	for i := 0; i < d.nComp; i++ {
		d.bw[i] = min(8, bs*h0/d.comp[i].h)
		d.bh[i] = min(8, bs*v0/d.comp[i].v)
		d.keep[i] = 0
		for y := 0; y < d.bh[i]; y++ {
			for x := 0; x < d.bw[i]; x++ {
				d.keep[i] = max(d.keep[i], int32(zigOf[8*y+x])+1)
			}
		}
	}
	visible := image.Rect(0, 0, (d.width+d.scale-1)/d.scale, (d.height+d.scale-1)/d.scale)
	if d.nComp == 1 {
		m := image.NewGray(image.Rect(0, 0, bs*mxx, bs*myy))
		d.img1 = m.SubImage(visible).(*image.Gray)
		return
	}

	// Luma (or C, for CMYK) output pixels per chroma output pixel; at scale
	// 1 these are image/jpeg's h0/h1 and v0/v1.
	hRatio := bs * h0 / (d.bw[1] * d.comp[1].h)
	vRatio := bs * v0 / (d.bh[1] * d.comp[1].v)
	var subsampleRatio image.YCbCrSubsampleRatio
	switch hRatio<<4 | vRatio {
	case 0x11:
		subsampleRatio = image.YCbCrSubsampleRatio444
	case 0x12:
		subsampleRatio = image.YCbCrSubsampleRatio440
	case 0x21:
		subsampleRatio = image.YCbCrSubsampleRatio422
	case 0x22:
		subsampleRatio = image.YCbCrSubsampleRatio420
	case 0x41:
		subsampleRatio = image.YCbCrSubsampleRatio411
	case 0x42:
		subsampleRatio = image.YCbCrSubsampleRatio410
	default:
		panic("unreachable")
	}
	m := image.NewYCbCr(image.Rect(0, 0, bs*h0*mxx, bs*v0*myy), subsampleRatio)
	d.img3 = m.SubImage(visible).(*image.YCbCr)

	if d.nComp == 4 {
		h3, v3 := d.comp[3].h, d.comp[3].v
		d.blackPix = make([]byte, d.bw[3]*h3*mxx*d.bh[3]*v3*myy)
		d.blackStride = d.bw[3] * h3 * mxx
	}
}

// Specified in section B.2.3.
func (d *decoder) processSOS(n int) error {
	if d.nComp == 0 {
		return FormatError("missing SOF marker")
	}
	if n < 6 || 4+2*d.nComp < n || n%2 != 0 {
		return FormatError("SOS has wrong length")
	}
	if err := d.readFull(d.tmp[:n]); err != nil {
		return err
	}
	nComp := int(d.tmp[0])
	if n != 4+2*nComp {
		return FormatError("SOS length inconsistent with number of components")
	}
	var scan [maxComponents]struct {
		compIndex uint8
		td        uint8 // DC table selector.
		ta        uint8 // AC table selector.
	}
	totalHV := 0
	for i := 0; i < nComp; i++ {
		cs := d.tmp[1+2*i] // Component selector.
		compIndex := -1
		for j, comp := range d.comp[:d.nComp] {
			if cs == comp.c {
				compIndex = j
			}
		}
		if compIndex < 0 {
			return FormatError("unknown component selector")
		}
		scan[i].compIndex = uint8(compIndex)
		// Section B.2.3 states that "the value of Cs_j shall be different from
		// the values of Cs_1 through Cs_(j-1)". Since we have previously
		// verified that a frame's component identifiers (C_i values in section
		// B.2.2) are unique, it suffices to check that the implicit indexes
		// into d.comp are unique.
		for j := 0; j < i; j++ {
			if scan[i].compIndex == scan[j].compIndex {
				return FormatError("repeated component selector")
			}
		}
		totalHV += d.comp[compIndex].h * d.comp[compIndex].v

		// The baseline t <= 1 restriction is specified in table B.3.
		scan[i].td = d.tmp[2+2*i] >> 4
		if t := scan[i].td; t > maxTh || (d.baseline && t > 1) {
			return FormatError("bad Td value")
		}
		scan[i].ta = d.tmp[2+2*i] & 0x0f
		if t := scan[i].ta; t > maxTh || (d.baseline && t > 1) {
			return FormatError("bad Ta value")
		}
	}
	// Section B.2.3 states that if there is more than one component then the
	// total H*V values in a scan must be <= 10.
	if d.nComp > 1 && totalHV > 10 {
		return FormatError("total sampling factors too large")
	}

	// zigStart and zigEnd are the spectral selection bounds.
	// ah and al are the successive approximation high and low values.
	// The spec calls these values Ss, Se, Ah and Al.
	//
	// For progressive JPEGs, these are the two more-or-less independent
	// aspects of progression. Spectral selection progression is when not
	// all of a block's 64 DCT coefficients are transmitted in one pass.
	// For example, three passes could transmit coefficient 0 (the DC
	// component), coefficients 1-5, and coefficients 6-63, in zig-zag
	// order. Successive approximation is when not all of the bits of a
	// band of coefficients are transmitted in one pass. For example,
	// three passes could transmit the 6 most significant bits, followed
	// by the second-least significant bit, followed by the least
	// significant bit.
	//
	// For sequential JPEGs, these parameters are hard-coded to 0/63/0/0, as
	// per table B.3.
	zigStart, zigEnd, ah, al := int32(0), int32(blockSize-1), uint32(0), uint32(0)
	if d.progressive {
		zigStart = int32(d.tmp[1+2*nComp])
		zigEnd = int32(d.tmp[2+2*nComp])
		ah = uint32(d.tmp[3+2*nComp] >> 4)
		al = uint32(d.tmp[3+2*nComp] & 0x0f)
		if (zigStart == 0 && zigEnd != 0) || zigStart > zigEnd || blockSize <= zigEnd {
			return FormatError("bad spectral selection bounds")
		}
		if zigStart != 0 && nComp != 1 {
			return FormatError("progressive AC coefficients for more than one component")
		}
		if ah != 0 && ah != al+1 {
			return FormatError("bad successive approximation values")
		}
	}

	// mxx and myy are the number of MCUs (Minimum Coded Units) in the image.
	h0, v0 := d.comp[0].h, d.comp[0].v // The h and v values from the Y components.
	mxx := (d.width + 8*h0 - 1) / (8 * h0)
	myy := (d.height + 8*v0 - 1) / (8 * v0)
	if d.img1 == nil && d.img3 == nil {
		d.makeImg(mxx, myy)
	}
	if d.progressive {
		for i := 0; i < nComp; i++ {
			compIndex := scan[i].compIndex
			if d.progCoeffs[compIndex] == nil {
				d.progCoeffs[compIndex] = make([]block, mxx*myy*d.comp[compIndex].h*d.comp[compIndex].v)
			}
		}
	}

	d.bits = bits{}
	mcu, expectedRST := 0, uint8(rst0Marker)
	var (
		// b is the decoded coefficients, in natural (not zig-zag) order.
		b  block
		dc [maxComponents]int32
		// bx and by are the location of the current block, in units of 8x8
		// blocks: the third block in the first row has (bx, by) = (2, 0).
		bx, by     int
		blockCount int
	)
	for my := 0; my < myy; my++ {
		for mx := 0; mx < mxx; mx++ {
			for i := 0; i < nComp; i++ {
				compIndex := scan[i].compIndex
				hi := d.comp[compIndex].h
				vi := d.comp[compIndex].v
				for j := 0; j < hi*vi; j++ {
					// The blocks are traversed one MCU at a time. For 4:2:0 chroma
					// subsampling, there are four Y 8x8 blocks in every 16x16 MCU.
					//
					// For a sequential 32x16 pixel image, the Y blocks visiting order is:
					//	0 1 4 5
					//	2 3 6 7
					//
					// For progressive images, the interleaved scans (those with nComp > 1)
					// are traversed as above, but non-interleaved scans are traversed left
					// to right, top to bottom:
					//	0 1 2 3
					//	4 5 6 7
					// Only DC scans (zigStart == 0) can be interleaved. AC scans must have
					// only one component.
					//
					// To further complicate matters, for non-interleaved scans, there is no
					// data for any blocks that are inside the image at the MCU level but
					// outside the image at the pixel level. For example, a 24x16 pixel 4:2:0
					// progressive image consists of two 16x16 MCUs. The interleaved scans
					// will process 8 Y blocks:
					//	0 1 4 5
					//	2 3 6 7
					// The non-interleaved scans will process only 6 Y blocks:
					//	0 1 2
					//	3 4 5
					if nComp != 1 {
						bx = hi*mx + j%hi
						by = vi*my + j/hi
					} else {
						q := mxx * hi
						bx = blockCount % q
						by = blockCount / q
						blockCount++
						if bx*8 >= d.width || by*8 >= d.height {
							continue
						}
					}

					// Load the previous partially decoded coefficients, if applicable.
					if d.progressive {
						b = d.progCoeffs[compIndex][by*mxx*hi+bx]
					}

					if !d.progressive {
						// Sequential: the whole block at once, and what
						// the scale needs of it.
						b = block{}
						err := d.decodeBlock(&b, &d.huff[dcTable][scan[i].td], &d.huff[acTable][scan[i].ta],
							&d.quant[d.comp[compIndex].tq], &dc[compIndex], d.keep[compIndex])
						if err != nil {
							return err
						}
						if err := d.reconstructBlock(&b, bx, by, int(compIndex), true); err != nil {
							return err
						}
						continue
					} else if ah != 0 {
						if err := d.refine(&b, &d.huff[acTable][scan[i].ta], zigStart, zigEnd, 1<<al); err != nil {
							return err
						}
					} else {
						zig := zigStart
						if zig == 0 {
							zig++
							// Decode the DC coefficient, as specified in section F.2.2.1.
							value, err := d.decodeHuffman(&d.huff[dcTable][scan[i].td])
							if err != nil {
								return err
							}
							if value > 16 {
								return UnsupportedError("excessive DC component")
							}
							dcDelta, err := d.receiveExtend(value)
							if err != nil {
								return err
							}
							dc[compIndex] += dcDelta
							b[0] = dc[compIndex] << al
						}

						if zig <= zigEnd && d.eobRun > 0 {
							d.eobRun--
						} else {
							err := d.decodeAC(&b, &d.huff[acTable][scan[i].ta], nil, zig, zigEnd, al, blockSize)
							if err != nil {
								return err
							}
						}
					}

					if d.progressive {
						// Save the coefficients.
						d.progCoeffs[compIndex][by*mxx*hi+bx] = b
						// At this point, we could call reconstructBlock to dequantize and perform the
						// inverse DCT, to save early stages of a progressive image to the *image.YCbCr
						// buffers (the whole point of progressive encoding), but in Go, the jpeg.Decode
						// function does not return until the entire image is decoded, so we "continue"
						// here to avoid wasted computation. Instead, reconstructBlock is called on each
						// accumulated block by the reconstructProgressiveImage method after all of the
						// SOS markers are processed.
						continue
					}
				} // for j
			} // for i
			mcu++
			if d.ri > 0 && mcu%d.ri == 0 && mcu < mxx*myy {
				// For well-formed input, the RST[0-7] restart marker follows
				// immediately. For corrupt input, call findRST to try to
				// resynchronize.
				if err := d.readFull(d.tmp[:2]); err != nil {
					return err
				} else if d.tmp[0] != 0xff || d.tmp[1] != expectedRST {
					if err := d.findRST(expectedRST); err != nil {
						return err
					}
				}
				expectedRST++
				if expectedRST == rst7Marker+1 {
					expectedRST = rst0Marker
				}
				// Reset the Huffman decoder.
				d.bits = bits{}
				// Reset the DC components, as per section F.2.1.3.1.
				dc = [maxComponents]int32{}
				// Reset the progressive decoder state, as per section G.1.2.2.
				d.eobRun = 0
			}
		} // for mx
	} // for my

	return nil
}

// decodeBlock decodes the coefficients of one block of a sequential scan
// into b, which is zero: DC, then AC up to the end of the block, as
// processSOS does for the first pass of a progressive scan, but with the
// bit accumulator in local variables. Coefficients from the zig-zag index
// keep on are entropy-decoded but not stored: the reduced IDCT of the
// scale does not read them (see makeImg).
//
// While the accumulator holds 32 bits or more, which fillBits makes sure
// of until the data ends, a code and its value can be taken without
// checking for the end: most coefficients come from a single look-up in
// h.fast, and codes of up to lutSize bits from one in h.lut. Near the end
// of the data the rest of the block goes the careful way (decodeHuffman,
// decodeAC), which fails where image/jpeg would.
func (d *decoder) decodeBlock(b *block, dcH, acH *huffman, qt *block, dc *int32, keep int32) error {
	a, n := d.bits.a, d.bits.n

	// The DC coefficient, as specified in section F.2.2.1.
	if n < 32 {
		a, n = d.fillBits(a, n)
	}
	if n >= 32 {
		e := dcH.lut[a>>(64-lutSize)]
		t, l := uint8(e>>8), int32(e&0xff)
		if e == 0 {
			if t, l = dcH.decodeLong(a); l == 0 {
				return dcH.codeError()
			}
		}
		if t > 16 {
			return UnsupportedError("excessive DC component")
		}
		a <<= uint(l)
		*dc += extend(a, t)
		a <<= t
		n -= l + int32(t)
	} else {
		d.bits.a, d.bits.n = a, n
		t, err := d.decodeHuffman(dcH)
		if err != nil {
			return err
		}
		if t > 16 {
			return UnsupportedError("excessive DC component")
		}
		delta, err := d.receiveExtend(t)
		if err != nil {
			return err
		}
		*dc += delta
		a, n = d.bits.a, d.bits.n
	}
	b[0] = *dc * qt[0]

	if d.eobRun > 0 {
		// Left by a malformed block's end-of-band run, which only
		// progressive scans have and image/jpeg reads here too.
		d.eobRun--
		d.bits.a, d.bits.n = a, n
		return nil
	}
	// The AC coefficients, as specified in section F.2.2.2. Shift counts
	// are masked to 6 bits, which they are anyway (at most 32), so that
	// the compiler need not handle shifts by 64 or more; zig is unsigned
	// so that it needs no bounds checks.
	for zig := uint32(1); zig < blockSize; zig++ {
		if n < 32 {
			// fillBits, with its fast path here.
			if i := d.bytes.i; i+8 <= d.bytes.j {
				w := binary.BigEndian.Uint64(d.bytes.buf[i:])
				if (^w-0x0101010101010101)&w&0x8080808080808080 == 0 {
					k := (64 - n) >> 3
					d.bytes.i = i + int(k)
					a |= w >> (n & 63)
					n += 8 * k
				}
			}
			if n < 32 {
				a, n = d.fillBits(a, n)
			}
			if n < 32 {
				d.bits.a, d.bits.n = a, n
				return d.decodeAC(b, acH, qt, int32(zig), blockSize-1, 0, keep)
			}
		}
		if f := acH.fast[a>>(64-lutSize)]; f != 0 {
			// A short code and its value: see fast.
			if z := zig + uint32(f>>8&0x0f); z < blockSize {
				if int32(z) < keep {
					b[unzig8[z]&(blockSize-1)] = (f >> 16) * qt[z]
				}
				a <<= f & 63
				n -= f & 0xff
				zig = z
				continue
			}
		}
		e := acH.lut[a>>(64-lutSize)]
		rs, l := uint8(e>>8), int32(e&0xff)
		if e == 0 {
			if rs, l = acH.decodeLong(a); l == 0 {
				return acH.codeError()
			}
		}
		a <<= l & 63
		n -= l
		run, size := uint32(rs>>4), rs&0x0f
		if size != 0 {
			zig += run
			if zig >= blockSize {
				break
			}
			if int32(zig) < keep {
				b[unzig8[zig]&(blockSize-1)] = extend(a, size) * qt[zig]
			}
			a <<= size & 63
			n -= int32(size)
			continue
		}
		if run == 0 {
			break // End of block (EOB).
		}
		if run != 0x0f {
			// A run of ends of block (EOBn, run 1..14, only valid in
			// progressive scans), with run more bits.
			d.eobRun = uint16(1<<run) | uint16(a>>(64-run))
			a <<= run
			n -= int32(run)
			d.eobRun--
			break
		}
		zig += 0x0f // ZRL: sixteen zeros.
	}
	d.bits.a, d.bits.n = a, n
	return nil
}

// unzig8 is unzig in bytes, for decodeBlock.
var unzig8 = func() (u [blockSize]uint8) {
	for i, v := range unzig {
		u[i] = uint8(v)
	}
	return u
}()

// decodeAC decodes the AC coefficients zig to zigEnd of a block into b,
// shifted left by al, as specified in section F.2.2.2 (and G.1.2.2 for the
// first pass of a progressive scan), storing those before keep, multiplied
// by qt if not nil. It is image/jpeg's loop, for progressive scans and for
// the end of the data in sequential ones.
func (d *decoder) decodeAC(b *block, h *huffman, qt *block, zig, zigEnd int32, al uint32, keep int32) error {
	for ; zig <= zigEnd; zig++ {
		value, err := d.decodeHuffman(h)
		if err != nil {
			return err
		}
		val0 := value >> 4
		val1 := value & 0x0f
		if val1 != 0 {
			zig += int32(val0)
			if zig > zigEnd {
				break
			}
			ac, err := d.receiveExtend(val1)
			if err != nil {
				return err
			}
			if zig < keep {
				if qt != nil {
					ac *= qt[zig]
				}
				b[unzig[zig]] = ac << al
			}
		} else {
			if val0 != 0x0f {
				d.eobRun = uint16(1 << val0)
				if val0 != 0 {
					bits, err := d.decodeBits(int32(val0))
					if err != nil {
						return err
					}
					d.eobRun |= uint16(bits)
				}
				d.eobRun--
				break
			}
			zig += 0x0f
		}
	}
	return nil
}

// codeError is the error of 16 bits that are no code of h.
func (h *huffman) codeError() error {
	if h.nCodes == 0 {
		return errUninitializedHuffman
	}
	return errBadHuffmanCode
}

// refine decodes a successive approximation refinement block, as specified in
// section G.1.2.
func (d *decoder) refine(b *block, h *huffman, zigStart, zigEnd, delta int32) error {
	// Refining a DC component is trivial.
	if zigStart == 0 {
		if zigEnd != 0 {
			panic("unreachable")
		}
		bit, err := d.decodeBit()
		if err != nil {
			return err
		}
		if bit {
			b[0] |= delta
		}
		return nil
	}

	// Refining AC components is more complicated; see sections G.1.2.2 and G.1.2.3.
	zig := zigStart
	if d.eobRun == 0 {
	loop:
		for ; zig <= zigEnd; zig++ {
			z := int32(0)
			value, err := d.decodeHuffman(h)
			if err != nil {
				return err
			}
			val0 := value >> 4
			val1 := value & 0x0f

			switch val1 {
			case 0:
				if val0 != 0x0f {
					d.eobRun = uint16(1 << val0)
					if val0 != 0 {
						bits, err := d.decodeBits(int32(val0))
						if err != nil {
							return err
						}
						d.eobRun |= uint16(bits)
					}
					break loop
				}
			case 1:
				z = delta
				bit, err := d.decodeBit()
				if err != nil {
					return err
				}
				if !bit {
					z = -z
				}
			default:
				return FormatError("unexpected Huffman code")
			}

			zig, err = d.refineNonZeroes(b, zig, zigEnd, int32(val0), delta)
			if err != nil {
				return err
			}
			if zig > zigEnd {
				return FormatError("too many coefficients")
			}
			if z != 0 {
				b[unzig[zig]] = z
			}
		}
	}
	if d.eobRun > 0 {
		d.eobRun--
		if _, err := d.refineNonZeroes(b, zig, zigEnd, -1, delta); err != nil {
			return err
		}
	}
	return nil
}

// refineNonZeroes refines non-zero entries of b in zig-zag order. If nz >= 0,
// the first nz zero entries are skipped over.
func (d *decoder) refineNonZeroes(b *block, zig, zigEnd, nz, delta int32) (int32, error) {
	for ; zig <= zigEnd; zig++ {
		u := unzig[zig]
		if b[u] == 0 {
			if nz == 0 {
				break
			}
			nz--
			continue
		}
		bit, err := d.decodeBit()
		if err != nil {
			return 0, err
		}
		if !bit {
			continue
		}
		if b[u] >= 0 {
			b[u] += delta
		} else {
			b[u] -= delta
		}
	}
	return zig, nil
}

func (d *decoder) reconstructProgressiveImage() error {
	// The h0, mxx, by and bx variables have the same meaning as in the
	// processSOS method.
	h0 := d.comp[0].h
	mxx := (d.width + 8*h0 - 1) / (8 * h0)
	for i := 0; i < d.nComp; i++ {
		if d.progCoeffs[i] == nil {
			continue
		}
		v := 8 * d.comp[0].v / d.comp[i].v
		h := 8 * d.comp[0].h / d.comp[i].h
		stride := mxx * d.comp[i].h
		for by := 0; by*v < d.height; by++ {
			for bx := 0; bx*h < d.width; bx++ {
				if err := d.reconstructBlock(&d.progCoeffs[i][by*stride+bx], bx, by, i, false); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// reconstructBlock dequantizes (unless the coefficients already are, as
// decodeBlock leaves them), performs the inverse DCT and stores the block
// to the image, as d.bw x d.bh pixels (see makeImg): the full 8x8 IDCT
// (as in image/jpeg) for 8x8, a reduced IDCT otherwise (idctred.go), each
// reading only the top-left d.bw x d.bh coefficients.
func (d *decoder) reconstructBlock(b *block, bx, by, compIndex int, dequantized bool) error {
	if compIndex >= maxComponents {
		return UnsupportedError("too many components")
	}
	bw, bh := d.bw[compIndex], d.bh[compIndex]
	dst, stride := []byte(nil), 0
	if d.nComp == 1 {
		stride = d.img1.Stride
		dst = d.img1.Pix[by*bh*stride+bx*bw:]
	} else {
		switch compIndex {
		case 0:
			stride = d.img3.YStride
			dst = d.img3.Y[by*bh*stride+bx*bw:]
		case 1:
			stride = d.img3.CStride
			dst = d.img3.Cb[by*bh*stride+bx*bw:]
		case 2:
			stride = d.img3.CStride
			dst = d.img3.Cr[by*bh*stride+bx*bw:]
		case 3:
			stride = d.blackStride
			dst = d.blackPix[by*bh*stride+bx*bw:]
		}
	}
	if !dequantized {
		qt := &d.quant[d.comp[compIndex].tq]
		for y := range bh {
			for x := range bw {
				b[8*y+x] *= qt[zigOf[8*y+x]]
			}
		}
	}
	switch {
	case bw == 8 && bh == 8:
		// The full IDCT, below.
	case bw == 1 && bh == 1:
		idct1x1(b, dst)
		return nil
	case bw == 2 && bh == 2:
		idct2x2(b, dst, stride)
		return nil
	case bw == 4 && bh == 4:
		idct4x4(b, dst, stride)
		return nil
	default:
		idctNxM(b, bw, bh, dst, stride)
		return nil
	}
	idct(b)
	// Level shift by +128, clip to [0, 255], and write to dst.
	for y := 0; y < 8; y++ {
		y8 := y * 8
		yStride := y * stride
		for x := 0; x < 8; x++ {
			c := b[y8+x]
			if c < -128 {
				c = 0
			} else if c > 127 {
				c = 255
			} else {
				c += 128
			}
			dst[yStride+x] = uint8(c)
		}
	}
	return nil
}

// findRST advances past the next RST restart marker that matches expectedRST.
// Other than I/O errors, it is also an error if we encounter an {0xFF, M}
// two-byte marker sequence where M is not 0x00, 0xFF or the expectedRST.
//
// This is similar to libjpeg's jdmarker.c's next_marker function.
// https://github.com/libjpeg-turbo/libjpeg-turbo/blob/2dfe6c0fe9e18671105e94f7cbf044d4a1d157e6/jdmarker.c#L892-L935
//
// Precondition: d.tmp[:2] holds the next two bytes of JPEG-encoded input
// (input in the d.readFull sense).
func (d *decoder) findRST(expectedRST uint8) error {
	for {
		// i is the index such that, at the bottom of the loop, we read 2-i
		// bytes into d.tmp[i:2], maintaining the invariant that d.tmp[:2]
		// holds the next two bytes of JPEG-encoded input. It is either 0 or 1,
		// so that each iteration advances by 1 or 2 bytes (or returns).
		i := 0

		if d.tmp[0] == 0xff {
			if d.tmp[1] == expectedRST {
				return nil
			} else if d.tmp[1] == 0xff {
				i = 1
			} else if d.tmp[1] != 0x00 {
				// libjpeg's jdmarker.c's jpeg_resync_to_restart does something
				// fancy here, treating RST markers within two (modulo 8) of
				// expectedRST differently from RST markers that are 'more
				// distant'. Until we see evidence that recovering from such
				// cases is frequent enough to be worth the complexity, we take
				// a simpler approach for now. Any marker that's not 0x00, 0xff
				// or expectedRST is a fatal FormatError.
				return FormatError("bad RST marker")
			}

		} else if d.tmp[1] == 0xff {
			d.tmp[0] = 0xff
			i = 1
		}

		if err := d.readFull(d.tmp[i:2]); err != nil {
			return err
		}
	}
}
