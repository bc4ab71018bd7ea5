// Image files in: PNG, JPEG, BMP and binary PPM/PGM, decoded by stb_image (Debian's libstb-dev)
// into 8-bit RGB.
//
// What comes out, and why:
// - Grayscale is expanded to R = G = B, and alpha is dropped (not composited over any background).
//   That is what PIL's Image.convert("RGB") does, which the HuggingFace pipeline applies to every
//   image, so a model sees the same pixels here as there.
// - 16 bits per sample (PNG bit depth 16, PPM/PGM maxval > 255) is refused, not converted. The
//   reference pipeline has no single behaviour to match: PIL opens a 16-bit gray PNG as mode
//   "I;16", whose convert("RGB") clips every value above 255 to white instead of scaling, and it
//   reads 16-bit RGB PNGs truncated to 8 bits. Converting the file first (e.g. ImageMagick's
//   `convert in.png -depth 8 out.png`) states the intent; the error message says so.
// - PPM/PGM must be binary (P6/P5) with maxval 255; ASCII (P2/P3), bitmaps (P1/P4), PAM (P7) and
//   other maxvals are refused, because stb_image would read them wrongly or not at all.
// - EXIF orientation, ICC profiles and PNG gamma are not applied, as with PIL's Image.open (note
//   that transformers.image_utils.load_image does rotate by EXIF orientation: rotate such files
//   first). Animated files give their first frame.
// - JPEG: stb_image's IDCT and chroma upsampling round differently from libjpeg-turbo (which PIL
//   uses), so decoded JPEG pixels may differ from PIL's by a level or two (at most 2, mean 0.08, on
//   tests/imaging's fixtures); 8-bit baseline and progressive only (no 12-bit, no arithmetic
//   coding). PNG, BMP and PPM/PGM decode exactly as PIL does.
//
// Corrupt and truncated files: stb_image fills missing data with zeros for some formats instead of
// failing, so before decoding, each container's structure is walked (PNG chunks with their CRCs up
// to IEND, JPEG segments and entropy-coded data up to EOI, BMP and PPM/PGM header sizes against the
// file size). Every refusal is a core::Error naming the file and the problem.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "imaging/image.h"

namespace vitbench::imaging {

enum class ImageFormat { Png, Jpeg, Bmp, Pnm };
const char* to_string(ImageFormat format);

// Guards against files whose header asks for absurd allocations (a few bytes can claim 2^31 x 2^31
// pixels): refused before anything that large is allocated. 2^26 pixels is a 64-megapixel photo.
inline constexpr size_t kMaxImageFileBytes = size_t(256) << 20;
inline constexpr size_t kMaxImagePixels = size_t(1) << 26;

// From the first bytes; throws core::Error naming `where` (and the format, when recognised as one
// we do not read: GIF, TIFF, WebP, ...) for anything else.
ImageFormat detect_image_format(std::string_view bytes, const std::string& where);

// `where` names the source in error messages.
RgbImage decode_image(std::string_view bytes, const std::string& where);
RgbImage read_image_file(const std::string& path);

}  // namespace vitbench::imaging
