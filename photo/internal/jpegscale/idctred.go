package jpegscale

import "math"

// This file is new (not from image/jpeg): the reduced-size inverse DCTs of
// DecodeScaled, in the manner of libjpeg-turbo's jpeg_idct_4x4,
// jpeg_idct_2x2 and jpeg_idct_1x1 (jidctint.c, jidctred.c), and ScaleFor.
// They take dequantized coefficients, in natural order (reconstructBlock
// dequantizes those of progressive scans; decodeBlock stores them so).

// Reduced inverse DCTs.
//
// The JPEG 8x8 inverse DCT (T.81 section A.3.3) is
//
//	f(x,y) = 1/4 Σ_u Σ_v C(u) C(v) F(u,v) cos((2x+1)uπ/16) cos((2y+1)vπ/16)
//
// for x, y, u, v in 0..7, with C(0) = 1/√2 and C(k) = 1 otherwise; F is the
// dequantized coefficient block and f is the sample minus the level shift
// of 128. (image/jpeg's idct computes exactly this, rounded to an integer,
// and reconstructBlock adds 128 and clamps to [0, 255].)
//
// To get an NxN block instead (N = 8/scale = 4, 2 or 1), we keep only the
// low-frequency coefficients u, v < N and evaluate an N-point IDCT at the N
// output positions:
//
//	g(x,y) = 1/4 Σ_{u<N} Σ_{v<N} C(u) C(v) F(u,v) cos((2x+1)uπ/2N) cos((2y+1)vπ/2N)
//
// The normalisation is the 8-point one, not the N-point one. Coefficient
// F(u,v) of an 8-point DCT measures the same frequency, in cycles per block,
// as coefficient (u,v) of an N-point DCT of the block's downsampled signal,
// and the two transforms' coefficients differ by the factor √(8/N)
// (orthonormal scaling), which exactly cancels the change of the IDCT's
// √(2/N) normalisation; so 1/4 stays. In particular a flat block, with only
// F(0,0) = D, gives g = D/8 at every scale, the same as f, and for N = 1,
// g = F(0,0)/8 is exactly the mean of the (unrounded) 8x8 block, since every
// other basis function sums to zero over the block. Dropping u, v >= N is an
// ideal low-pass within the block (no aliasing); it differs from a box
// average of the full decode by the slight attenuation a box filter applies
// to the kept frequencies (cos(uπ/16) per dimension), which is what libjpeg
// 7+ and libjpeg-turbo do too (jidctint.c's jpeg_idct_4x4 and _2x2).
//
// g is separable: g = 1/4 · (row pass) · (column pass), each pass a 1-D sum
// Σ_u C(u) F(u) cos((2x+1)uπ/2N). Multiplying each pass by √2 removes most
// multiplications: C(0)·√2 = 1 and cos(π/4)·√2 = 1. One pass is then
// h(x) = √2 Σ_u C(u) F(u) cos((2x+1)uπ/2N), i.e.
//
//	N = 2: h(0) = F0 + F1, h(1) = F0 - F1
//	N = 4: even part e0 = F0 + F2, e1 = F0 - F2;
//	       odd part o0 = k1·F1 + k3·F3, o1 = k3·F1 - k1·F3,
//	       with k1 = √2·cos(π/8), k3 = √2·cos(3π/8);
//	       h(0) = e0 + o0, h(1) = e1 + o1, h(2) = e1 - o1, h(3) = e0 - o0
//
// and the 2-D result is the row pass followed by the column pass, divided
// by 8 (the 1/4 of the definition times the 1/2 that the two √2s add).
//
// Subsampled chroma is reconstructed at a larger size than luma (see
// makeImg), which can make a block N wide and M high with N != M, for
// example 8x4 for 4:2:2 chroma at 1/2 scale. idctNxM does those with the
// same formula, N points horizontally and M vertically, as plain sums over
// a table of the constants √2·C(u)·cos((2x+1)uπ/2N).
// Like image/jpeg, the result is rounded half up (add half, arithmetic
// shift), so that a flat block gives (D+4)>>3 at every scale, bit for bit
// what image/jpeg's idct gives for it.

// zigOf is the inverse of unzig: zigOf[i] is the zig-zag index of natural
// position i, which is where the quantization table (stored in zig-zag order)
// holds that coefficient's step.
var zigOf = func() (z [blockSize]int) {
	for zig, nat := range unzig {
		z[nat] = zig
	}
	return z
}()

// Fixed-point precision of the 4x4 IDCT: constants have constBits fractional
// bits and the intermediate (row pass) values keep pass1Bits of them.
const (
	constBits = 13
	pass1Bits = 2
	k1        = 10703 // √2·cos(π/8)  = 1.306562965 in Q.13 (round(1.306562965·8192)).
	k3        = 4433  // √2·cos(3π/8) = 0.541196100 in Q.13 (round(0.541196100·8192)).
)

// idctKernel[N][x][u] is √2·C(u)·cos((2x+1)uπ/2N) with constBits
// fractional bits, for N = 1, 2, 4, 8 and x, u < N.
var idctKernel = func() (k [9][8][8]int32) {
	for _, n := range []int{1, 2, 4, 8} {
		for x := 0; x < n; x++ {
			for u := 0; u < n; u++ {
				c := math.Sqrt2 * math.Cos(float64((2*x+1)*u)*math.Pi/float64(2*n))
				if u == 0 {
					c = 1 // √2·C(0), exactly.
				}
				k[n][x][u] = int32(math.Round(c * (1 << constBits)))
			}
		}
	}
	return k
}()

// idctNxM is the general reduced IDCT: an n-point IDCT along rows (n wide)
// of the m x n lowest coefficients, then an m-point IDCT down the columns,
// for n, m in {1, 2, 4, 8}. It is used only for the non-square blocks of
// subsampled chroma (the square ones have the faster functions above), and
// follows the same fixed-point scheme as idct4x4.
func idctNxM(b *block, n, m int, dst []byte, stride int) {
	var ws [64]int32 // Row pass output, m rows of n, with pass1Bits fractional bits.
	kn, km := &idctKernel[n], &idctKernel[m]
	for v := 0; v < m; v++ {
		var f [8]int32
		for u := 0; u < n; u++ {
			f[u] = b[8*v+u]
		}
		for x := 0; x < n; x++ {
			var sum int32
			for u := 0; u < n; u++ {
				sum += kn[x][u] * f[u]
			}
			ws[v*n+x] = (sum + 1<<(constBits-pass1Bits-1)) >> (constBits - pass1Bits)
		}
	}
	for x := 0; x < n; x++ {
		for y := 0; y < m; y++ {
			var sum int32
			for v := 0; v < m; v++ {
				sum += km[y][v] * ws[v*n+x]
			}
			const shift = constBits + pass1Bits + 3
			dst[y*stride+x] = clampPixel((sum + 1<<(shift-1)) >> shift)
		}
	}
}

// clampPixel adds the level shift of 128 and clamps to [0, 255], as
// reconstructBlock does for the full IDCT.
func clampPixel(c int32) uint8 {
	if c < -128 {
		return 0
	} else if c > 127 {
		return 255
	}
	return uint8(c + 128)
}

// idct1x1 is the 1/8 scale: the block becomes one pixel, the block mean,
// which is the dequantized DC coefficient divided by 8 (rounded half up).
func idct1x1(b *block, dst []byte) {
	dst[0] = clampPixel((b[0] + 4) >> 3)
}

// idct2x2 is the 1/4 scale: a 2-point IDCT of the four lowest coefficients
// in each dimension. With F0 ± F1 per pass, the whole transform is
// g(x,y) = (F00 ± F01 ± F10 ± F11) / 8, where the sign of F01 (horizontal
// frequency 1) is - for x = 1 and that of F10 is - for y = 1.
func idct2x2(b *block, dst []byte, stride int) {
	f00, f01, f10, f11 := b[0], b[1], b[8], b[9]
	// Row pass (horizontal), for rows v = 0 and v = 1.
	r00, r01 := f00+f01, f00-f01
	r10, r11 := f10+f11, f10-f11
	// Column pass (vertical), rounding, and the division by 8.
	dst[0] = clampPixel((r00 + r10 + 4) >> 3)
	dst[1] = clampPixel((r01 + r11 + 4) >> 3)
	dst[stride] = clampPixel((r00 - r10 + 4) >> 3)
	dst[stride+1] = clampPixel((r01 - r11 + 4) >> 3)
}

// idct4x4 is the 1/2 scale: a 4-point IDCT of the 4x4 lowest coefficients.
// See the comment at the top of the file for the formula.
func idct4x4(b *block, dst []byte, stride int) {
	var ws [16]int32 // Row pass output, 4x4, with pass1Bits fractional bits.

	// Row pass: a 1-D IDCT along each of the rows v = 0..3 (horizontal
	// frequencies u = 0..3), scaled by √2.
	for v := 0; v < 4; v++ {
		f0, f1, f2, f3 := b[8*v+0], b[8*v+1], b[8*v+2], b[8*v+3]
		if f1 == 0 && f2 == 0 && f3 == 0 {
			// Common for high rows: the row is flat.
			dc := f0 << pass1Bits
			ws[4*v+0], ws[4*v+1], ws[4*v+2], ws[4*v+3] = dc, dc, dc, dc
			continue
		}
		e0 := (f0 + f2) << constBits
		e1 := (f0 - f2) << constBits
		o0 := k1*f1 + k3*f3
		o1 := k3*f1 - k1*f3
		const half, shift = 1 << (constBits - pass1Bits - 1), constBits - pass1Bits
		ws[4*v+0] = (e0 + o0 + half) >> shift
		ws[4*v+1] = (e1 + o1 + half) >> shift
		ws[4*v+2] = (e1 - o1 + half) >> shift
		ws[4*v+3] = (e0 - o0 + half) >> shift
	}

	// Column pass: the same 1-D IDCT down each column x = 0..3, then remove
	// the fractional bits and divide by 8.
	for x := 0; x < 4; x++ {
		f0 := ws[x]
		f1 := ws[4+x]
		f2 := ws[8+x]
		f3 := ws[12+x]
		e0 := (f0 + f2) << constBits
		e1 := (f0 - f2) << constBits
		o0 := k1*f1 + k3*f3
		o1 := k3*f1 - k1*f3
		const half, shift = 1 << (constBits + pass1Bits + 3 - 1), constBits + pass1Bits + 3
		dst[x] = clampPixel((e0 + o0 + half) >> shift)
		dst[stride+x] = clampPixel((e1 + o1 + half) >> shift)
		dst[2*stride+x] = clampPixel((e1 - o1 + half) >> shift)
		dst[3*stride+x] = clampPixel((e0 - o0 + half) >> shift)
	}
}

// ScaleFor returns the scale to pass to DecodeScaled for a thumbnail whose
// long side is target pixels, of a width x height JPEG: the largest scale s
// in {1, 2, 4, 8} such that the scaled long side, ceil(max(width,
// height)/s), is still at least target, or 1 if there is none (the image
// is already smaller than target, or target <= 0). Since scales are powers
// of two, the scaled long side is then between 1x and 2x the target (more
// only when the scale is capped at 8), and the caller finishes with a
// high-quality (Lanczos) resize, as libvips' shrink-on-load does. The
// DCT-domain reduction is a per-block low-pass, so it softens the
// thumbnail's finest detail a little: 40-41 dB PSNR against a full decode
// and Lanczos, where keeping 2x-4x gave about 50 dB for 4-6x the resize's
// work and a decode at twice the scale. For a 4032x3024 photo and target
// 400 it is 8 (504x378); for 1800x1200 it is 4 (450x300).
func ScaleFor(width, height, target int) int {
	long := max(width, height)
	if target <= 0 || long <= 0 {
		return 1
	}
	for _, s := range [...]int{8, 4, 2} {
		if (long+s-1)/s >= target {
			return s
		}
	}
	return 1
}
