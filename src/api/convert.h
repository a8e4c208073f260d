// Between the public Image (duogen/duogen.h) and the pipeline's uint8 [H, W, 3] tensors.
#pragma once

#include <ATen/core/Tensor.h>

#include "duogen/duogen.h"
#include "io/png_text.h"

namespace duogen::api {

// Copies a uint8 [H, W, 3] tensor (any device, any strides) into an Image.
Image to_image(const at::Tensor& rgb, const io::PngText& params = {});

// A uint8 [H, W, 3] CPU tensor viewing the image's bytes (valid while `image` lives).
at::Tensor tensor_view(const Image& image);

}  // namespace duogen::api
