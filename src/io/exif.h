// EXIF orientation: cameras store the sensor's pixel order and a tag saying how to turn it.
// transformers' and diffusers' load_image apply it (PIL.ImageOps.exif_transpose) before anything
// else sees the image, so duogen's image reader does too.
#pragma once

#include <ATen/core/Tensor.h>

#include <string_view>

namespace duogen::io {

// The orientation tag (1..8) of IFD0 in a JPEG's APP1 "Exif" segment or a PNG's eXIf chunk; 1
// (as stored) when the file has none, or an EXIF block that cannot be read (a damaged tag must
// not make the picture unreadable).
int exif_orientation(std::string_view file_bytes);

// rgb [H, W, C] turned upright for `orientation` as Pillow's exif_transpose does (2: mirror,
// 3: rotate 180, 4: flip, 5: transpose, 6: rotate 90 clockwise, 7: transverse, 8: rotate 90
// counter-clockwise); other values return it unchanged. The result is contiguous.
at::Tensor apply_exif_orientation(const at::Tensor& rgb, int orientation);

}  // namespace duogen::io
