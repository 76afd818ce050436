package photo

import (
	"image"
	"math"

	"github.com/disintegration/imaging"
)

// resizeYCbCr scales src (bounds at the origin) to tw x th with filter,
// giving what imaging.Resize gives within a level, for about half the
// CPU (TestResizeYCbCrMatchesImaging, BenchmarkResizeYCbCr): imaging
// filters four channels, alpha-weighted, in float64. Here a row of pixels
// is converted to RGB with the arithmetic of color.YCbCrToRGB, as imaging
// does (so each pixel is clamped as there, which filtering the YCbCr
// planes and converting after would not do in saturated areas), the
// horizontal pass filters the three channels in one integer multiply-add
// per tap (see laneBits), and the vertical pass works along whole rows.
// It is the resize of every JPEG decoded at reduced scale: 504x378 to
// 400x300 for a 12 MP photo.
func resizeYCbCr(src *image.YCbCr, tw, th int, filter imaging.ResampleFilter) *image.NRGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	hs, vs := chromaShift(src.SubsampleRatio)
	hw, vw := makeWeights(tw, w, filter, packedWeightBits), makeWeights(th, h, filter, weightBits)
	if hw.absSum > packedMaxSum {
		// A filter whose sums could overflow a lane (none of imaging's).
		return imaging.Resize(src, tw, th, filter)
	}

	// Horizontally, from each row of pixels to a row of tw, as RGB
	// triples: each pixel is packed into one uint64 (see filterPacked).
	mid := make([]int16, 3*tw*h)
	parallelRows(h, func(y0, y1 int) {
		row := make([]uint64, w)
		for y := y0; y < y1; y++ {
			yr := src.Y[y*src.YStride:][:w]
			cb := src.Cb[(y>>vs)*src.CStride:]
			cr := src.Cr[(y>>vs)*src.CStride:]
			for x, yy := range yr {
				// color.YCbCrToRGB, which the compiler does not inline.
				y1 := int32(yy) * 0x10101
				cb1, cr1 := int32(cb[x>>hs])-128, int32(cr[x>>hs])-128
				r := clamp16(y1 + 91881*cr1)
				g := clamp16(y1 - 22554*cb1 - 46802*cr1)
				b := clamp16(y1 + 116130*cb1)
				row[x] = uint64(r) | uint64(g)<<laneBits | uint64(b)<<(2*laneBits)
			}
			hw.filterPacked(mid[3*tw*y:][:3*tw], row)
		}
	})

	// Vertically, from those rows to the NRGBA image.
	dst := image.NewNRGBA(image.Rect(0, 0, tw, th))
	parallelRows(th, func(y0, y1 int) {
		acc := make([]int32, 3*tw)
		for y := y0; y < y1; y++ {
			clear(acc)
			for k, wk := range vw.w[y*vw.taps : (y+1)*vw.taps] {
				if wk == 0 {
					continue
				}
				row := mid[3*tw*(vw.start[y]+k):][:len(acc)]
				for x, v := range row {
					acc[x] += int32(v) * wk
				}
			}
			out := dst.Pix[y*dst.Stride:][:4*tw]
			for x := range tw {
				o := out[4*x : 4*x+4 : 4*x+4]
				a := acc[3*x : 3*x+3 : 3*x+3]
				o[0], o[1], o[2], o[3] = toSample(a[0]), toSample(a[1]), toSample(a[2]), 0xFF
			}
		}
	})
	return dst
}

// clamp16 is v >> 16 clamped to [0, 255], as color.YCbCrToRGB does it.
func clamp16(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}

// toSample rounds a vertical sum (weightBits + fracBits fractional bits)
// to a sample, clamping the filter's ringing past black or white.
func toSample(sum int32) uint8 {
	v := (sum + 1<<(weightBits+fracBits-1)) >> (weightBits + fracBits)
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// fracBits is the fractional bits that the horizontal pass keeps.
const fracBits = 4

// weightBits is the fixed-point precision of the vertical pass's
// weights: samples with fracBits fractional bits times weights that add
// up to 1<<14, with negative lobes, stay well inside an int32.
const weightBits = 14

// The horizontal pass computes the three channels of a pixel in one
// 64-bit multiply-add: a pixel is packed as R | G<<21 | B<<42, and since
// integer arithmetic wraps, the sum of packed pixels times a (signed)
// weight is the packed sum of each channel's, as long as each lane's sum
// stays within 21 bits (22 for the top one), signed. With weights of 11
// bits (packedWeightBits) and 8-bit samples that holds for weights whose
// absolute values add up to less than 2, packedMaxSum (imaging's filters:
// at most about 1.3, for Lanczos).
const (
	laneBits         = 21
	packedWeightBits = 11
	packedMaxSum     = (1<<(laneBits-1) - 1<<(packedWeightBits-fracBits)) / 255
)

// weights resample one dimension from src to dst samples: destination
// sample i is the sum over k < taps of w[i*taps+k] times source sample
// start[i]+k, the weights of each adding up to 1<<weightBits. Every window
// has the same number of taps (zero weights pad the short ones at the
// edges), which keeps the inner loops simple.
type weights struct {
	src, dst int
	taps     int
	start    []int
	w        []int32
	bits     uint  // of the fixed point
	absSum   int32 // the largest sum of the absolute values of one sample's weights
}

// makeWeights computes imaging's weights (precomputeWeights: the filter
// stretched by the reduction factor when reducing, normalised to add up
// to 1) and rounds them to bits of fixed point, keeping their sum exact,
// so that a flat area stays flat.
func makeWeights(dst, src int, filter imaging.ResampleFilter, bits uint) weights {
	wt := weights{src: src, dst: dst, bits: bits, absSum: 1 << bits}
	if dst == src {
		// The identity; rare enough (a side already the thumbnail's)
		// not to deserve a pass of its own.
		wt.taps, wt.start, wt.w = 1, make([]int, dst), make([]int32, dst)
		for v := range dst {
			wt.start[v], wt.w[v] = v, 1<<bits
		}
		return wt
	}
	du := float64(src) / float64(dst)
	scale := max(du, 1)
	ru := math.Ceil(scale * filter.Support)
	wt.taps = min(src, 2*int(ru)+1)
	wt.start = make([]int, dst)
	wt.w = make([]int32, dst*wt.taps)
	fw := make([]float64, wt.taps)
	for v := range dst {
		fu := (float64(v)+0.5)*du - 0.5
		begin := max(0, int(math.Ceil(fu-ru)))
		end := min(src-1, int(math.Floor(fu+ru)))
		start := min(begin, src-wt.taps)
		wt.start[v] = start
		clear(fw)
		var sum float64
		for u := begin; u <= end; u++ {
			k := filter.Kernel((float64(u) - fu) / scale)
			fw[u-start] = k
			sum += k
		}
		ws := wt.w[v*wt.taps : (v+1)*wt.taps]
		if sum == 0 {
			// No weight at all (a kernel this thin can miss every
			// sample): the nearest sample, where imaging leaves black.
			ws[min(max(0, int(math.Round(fu)))-start, wt.taps-1)] = 1 << bits
			continue
		}
		total, big := int32(0), 0
		for k, f := range fw {
			ws[k] = int32(math.Round(f / sum * float64(int(1)<<bits)))
			total += ws[k]
			if ws[k] > ws[big] {
				big = k
			}
		}
		ws[big] += 1<<bits - total
		var abs int32
		for _, w := range ws {
			abs += max(w, -w)
		}
		wt.absSum = max(wt.absSum, abs)
	}
	return wt
}

// filterPacked resamples one row of packed pixels (R | G<<laneBits |
// B<<2*laneBits), src to dst as RGB triples with fracBits fractional
// bits.
func (wt *weights) filterPacked(dst []int16, src []uint64) {
	shift := wt.bits - fracBits
	half := uint64(1) << (shift - 1)
	half |= half<<laneBits | half<<(2*laneBits) // rounding, in each lane
	for x := range wt.dst {
		s := src[wt.start[x]:][:wt.taps]
		ws := wt.w[x*wt.taps:][:len(s)]
		sum := half
		for k, p := range s {
			sum += p * uint64(int64(ws[k]))
		}
		// Unpack: take each lane's signed value off before the next.
		r := int64(sum<<(64-laneBits)) >> (64 - laneBits)
		sum = (sum - uint64(r)) >> laneBits
		g := int64(sum<<(64-laneBits)) >> (64 - laneBits)
		sum = (sum - uint64(g)) >> laneBits
		b := int64(sum<<(64-laneBits-1)) >> (64 - laneBits - 1)
		d := dst[3*x : 3*x+3 : 3*x+3]
		d[0], d[1], d[2] = clampMid(r>>shift), clampMid(g>>shift), clampMid(b>>shift)
	}
}

// clampMid clamps a horizontal pass's sample to [0, 255] with fracBits
// fractional bits, as imaging clamps each pass's result: without it, the
// vertical pass would go on from ringing that imaging cuts off, and differ
// from it by up to 14 levels next to hard edges.
func clampMid(v int64) int16 {
	return int16(min(max(v, 0), 255<<fracBits))
}

// resizeYCbCrCost is what resizeYCbCr allocates for a w x h image: the
// horizontal pass's tw x h RGB of int16, the NRGBA result, the weights,
// and per CPU a row of packed pixels and one of sums.
func resizeYCbCrCost(w, h, tw, th, procs int64, support float64) int64 {
	weights := func(dst, src int64) int64 {
		ru := int64(math.Ceil(max(float64(src)/float64(dst), 1) * support))
		return 8*dst + 4*dst*min(src, 2*ru+1) + 8*(2*ru+1)
	}
	c := 3*2*tw*h + 4*tw*th + weights(tw, w) + weights(th, h)
	return c + procs*(8*w+3*4*tw)
}

// chromaShift is the log2 of a YCbCr picture's chroma subsampling,
// across and down.
func chromaShift(r image.YCbCrSubsampleRatio) (hs, vs uint) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 1, 0
	case image.YCbCrSubsampleRatio420:
		return 1, 1
	case image.YCbCrSubsampleRatio440:
		return 0, 1
	case image.YCbCrSubsampleRatio411:
		return 2, 0
	case image.YCbCrSubsampleRatio410:
		return 2, 1
	}
	return 0, 0
}
