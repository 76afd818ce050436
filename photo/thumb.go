package photo

import (
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"io"
	"runtime"
	"sync"

	"github.com/disintegration/imaging"
)

// thumbFilter is the resampling filter of the final resize step, after
// the box pre-reduction (see resizeWith). Measured on a 12 MP photo
// (BenchmarkResizeOnly, 2 CPUs): Lanczos alone 79 ms, CatmullRom 60,
// Linear 41, Box 32; after the pre-reduction Lanczos 14 ms, CatmullRom 13,
// Linear 11. At that point the sharpest filter costs 2-3 ms more than the
// cheapest, so it is Lanczos. (A JPEG decoded at reduced scale needs no
// pre-reduction: its Lanczos resize is resizeYCbCr's, ~12 ms of CPU.)
var thumbFilter = imaging.Lanczos

// thumbSize returns the size of the thumbnail of a w x h image: the long
// side is size (never enlarged), the other side keeps the aspect ratio,
// rounded, at least 1.
func thumbSize(w, h, size int) (int, int) {
	if w <= size && h <= size {
		return w, h
	}
	if w >= h {
		return size, max(1, int((int64(h)*int64(size)+int64(w)/2)/int64(w)))
	}
	return max(1, int((int64(w)*int64(size)+int64(h)/2)/int64(h))), size
}

// resize scales img (bounds at the origin) to its thumbnail size.
func resize(img image.Image, size int) *image.NRGBA {
	return resizeWith(img, size, thumbFilter, true)
}

// resizeTo scales img (bounds at the origin) to tw x th: a picture decoded
// at reduced scale goes to the thumbnail size of the full photo.
func resizeTo(img image.Image, tw, th int) *image.NRGBA {
	return resizeToWith(img, tw, th, thumbFilter, true)
}

// resizeWith is resize with the strategy spelled out, for the benchmark:
// pre false is imaging alone.
func resizeWith(img image.Image, size int, filter imaging.ResampleFilter, pre bool) *image.NRGBA {
	b := img.Bounds()
	tw, th := thumbSize(b.Dx(), b.Dy(), size)
	return resizeToWith(img, tw, th, filter, pre)
}

func resizeToWith(img image.Image, tw, th int, filter imaging.ResampleFilter, pre bool) *image.NRGBA {
	b := img.Bounds()
	if tw == b.Dx() && th == b.Dy() {
		return clone(img)
	}
	// A source 4x the target or more is first box-averaged by an integer
	// factor k down to 2-4x the target: averaging whole blocks is what a
	// wide filter does anyway, at a fraction of the cost, and the final
	// filter then has only a small image to work on.
	if k := min(b.Dx()/(2*tw), b.Dy()/(2*th)); pre && k >= 2 {
		img = boxReduce(img, k)
	} else if src, ok := img.(*image.YCbCr); ok && pre && b.Min == (image.Point{}) {
		// A JPEG decoded at reduced scale is 1-2x the thumbnail: the
		// same filter as imaging's, at half the cost.
		return resizeYCbCr(src, tw, th, filter)
	}
	return imaging.Resize(img, tw, th, filter)
}

// smallImage is the most pixels clone converts on its own goroutine.
// imaging spreads every image over GOMAXPROCS goroutines, which for a
// small one is microseconds of work each, and under load each of them
// waits its turn behind whatever else is runnable: beside a fan-out to a
// thousand viewers, a 24x16 photo's copy waited ~5 ms for its helpers.
const smallImage = 1 << 16

// clone is imaging.Clone, pixel for pixel, without its goroutines for a
// small JPEG's, or a small NRGBA or RGBA image's (PNG, WebP), copy.
func clone(img image.Image) *image.NRGBA {
	b := img.Bounds()
	if b.Dx()*b.Dy() > smallImage {
		return imaging.Clone(img)
	}
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch src := img.(type) {
	case *image.YCbCr:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := src.YOffset(x, y), src.COffset(x, y)
				r, g, bl := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				p := dst.Pix[i : i+4 : i+4]
				p[0], p[1], p[2], p[3] = r, g, bl, 0xff
				i += 4
			}
		}
	case *image.NRGBA:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			copy(dst.Pix[(y-b.Min.Y)*dst.Stride:], src.Pix[src.PixOffset(b.Min.X, y):src.PixOffset(b.Max.X, y)])
		}
	case *image.RGBA:
		// Un-premultiplied as imaging does it, truncating.
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for j := src.PixOffset(b.Min.X, y); j < src.PixOffset(b.Max.X, y); j += 4 {
				s, p := src.Pix[j:j+4:j+4], dst.Pix[i:i+4:i+4]
				switch a := uint16(s[3]); a {
				case 0:
					p[0], p[1], p[2], p[3] = 0, 0, 0, 0
				case 0xff:
					copy(p, s)
				default:
					p[0], p[1], p[2], p[3] = uint8(uint16(s[0])*0xff/a), uint8(uint16(s[1])*0xff/a), uint8(uint16(s[2])*0xff/a), s[3]
				}
				i += 4
			}
		}
	default:
		return imaging.Clone(img)
	}
	return dst
}

// boxReduce averages k x k blocks of img (bounds at the origin) into one
// pixel. Edge blocks that are cut short average what they have. YCbCr
// (every JPEG and lossy WebP) is averaged in place without converting each
// source pixel to RGB first, which is where most of the time would go.
func boxReduce(img image.Image, k int) image.Image {
	b := img.Bounds()
	ow, oh := (b.Dx()+k-1)/k, (b.Dy()+k-1)/k
	if src, ok := img.(*image.YCbCr); ok {
		return boxReduceYCbCr(src, k, ow, oh)
	}
	// Other models: let imaging do the same with its box filter (it
	// converts to NRGBA row by row, in parallel).
	return imaging.Resize(img, ow, oh, imaging.Box)
}

func boxReduceYCbCr(src *image.YCbCr, k, ow, oh int) *image.NRGBA {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dst := image.NewNRGBA(image.Rect(0, 0, ow, oh))
	// Chroma column of every source column, once.
	shs, svs := chromaShift(src.SubsampleRatio)
	hs, vs := int(shs), int(svs)
	cx := make([]int, w)
	for x := range cx {
		cx[x] = (src.Rect.Min.X+x)>>hs - src.Rect.Min.X>>hs
	}
	rows := func(y0, y1 int) {
		sy := make([]uint32, ow)
		su := make([]uint32, ow)
		sv := make([]uint32, ow)
		for oy := y0; oy < y1; oy++ {
			clear(sy)
			clear(su)
			clear(sv)
			ya, yb := oy*k, min(oy*k+k, h)
			for y := ya; y < yb; y++ {
				yrow := src.Y[y*src.YStride : y*src.YStride+w]
				cy := (src.Rect.Min.Y+y)>>vs - src.Rect.Min.Y>>vs
				crow := src.Cb[cy*src.CStride:]
				vrow := src.Cr[cy*src.CStride:]
				for ox := 0; ox < ow; ox++ {
					xa, xb := ox*k, min(ox*k+k, w)
					var ty, tu, tv uint32
					for x := xa; x < xb; x++ {
						ty += uint32(yrow[x])
						c := cx[x]
						tu += uint32(crow[c])
						tv += uint32(vrow[c])
					}
					sy[ox] += ty
					su[ox] += tu
					sv[ox] += tv
				}
			}
			out := dst.Pix[oy*dst.Stride:]
			bh := uint32(yb - ya)
			for ox := 0; ox < ow; ox++ {
				n := bh * uint32(min(ox*k+k, w)-ox*k)
				r, g, bl := color.YCbCrToRGB(
					uint8((sy[ox]+n/2)/n), uint8((su[ox]+n/2)/n), uint8((sv[ox]+n/2)/n))
				o := out[4*ox : 4*ox+4 : 4*ox+4]
				o[0], o[1], o[2], o[3] = r, g, bl, 0xFF
			}
		}
	}
	parallelRows(oh, rows)
	return dst
}

// parallelRows splits [0,n) into one band per CPU.
func parallelRows(n int, f func(y0, y1 int)) {
	p := min(runtime.GOMAXPROCS(0), n)
	if p <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < p; i++ {
		y0, y1 := n*i/p, n*(i+1)/p
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(y0, y1)
		}()
	}
	wg.Wait()
}

// orientImage turns a stored image into the displayed one for EXIF
// orientation o. Applied to the small image, after resizing: the
// transforms commute with scaling and cost nothing at thumbnail size.
func orientImage(img *image.NRGBA, o int) *image.NRGBA {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img) // 90° clockwise
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img) // 90° counter-clockwise
	}
	return img
}

// drawOver draws src onto dst (same origin), for a GIF frame that covers
// part of its canvas; the rest stays transparent.
func drawOver(dst *image.NRGBA, src image.Image) {
	draw.Draw(dst, src.Bounds(), src, src.Bounds().Min, draw.Src)
}

// encodeThumb flattens img onto white (JPEG has no alpha; transparent
// pixels would otherwise show whatever colour they hide) and writes it as
// JPEG. With alpha gone NRGBA and RGBA are the same bytes, which takes the
// encoder's fast path.
func encodeThumb(w io.Writer, img *image.NRGBA, quality int) error {
	p := img.Pix
	for i := 0; i+3 < len(p); i += 4 {
		if a := uint32(p[i+3]); a != 0xFF {
			p[i] = uint8((uint32(p[i])*a + 0xFF*(0xFF-a) + 0x7F) / 0xFF)
			p[i+1] = uint8((uint32(p[i+1])*a + 0xFF*(0xFF-a) + 0x7F) / 0xFF)
			p[i+2] = uint8((uint32(p[i+2])*a + 0xFF*(0xFF-a) + 0x7F) / 0xFF)
			p[i+3] = 0xFF
		}
	}
	rgba := &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
	return jpeg.Encode(w, rgba, &jpeg.Options{Quality: quality})
}
