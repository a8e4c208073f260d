// Image resampling that reproduces Pillow bit for bit on uint8 images (bicubic and bilinear).
//
// `resize_bicubic` is Pillow's `Image.resize(size, Image.BICUBIC)` for 8-bit images (Pillow 12,
// src/libImaging/Resample.c, ImagingResample with the default box): a separable filter (a
// horizontal pass over the rows the vertical pass needs, then a vertical pass), antialiased (the
// filter support widens by the downscale factor), cubic convolution with a = -0.5, coefficients
// rounded to 22-bit fixed point and the intermediate image rounded and clipped to uint8 between
// the passes. Qwen2.5-VL's image processor (PIL backend) resizes with exactly this; the DuoGen
// pipeline uses it for every resize of a user or condition image.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace duogen::image {

// rgb: uint8 [H, W, C] (any C >= 1, CPU; each channel filtered independently as Pillow does for
// L/RGB/RGBX images). Returns uint8 [out_height, out_width, C]. Equal sizes return a copy, like
// Pillow. Throws InvalidArgument for a wrong dtype/rank or non-positive sizes.
at::Tensor resize_bicubic(const at::Tensor& rgb, std::int64_t out_height, std::int64_t out_width);

// Pillow's `Image.resize(size, Image.BILINEAR)` for 8-bit images: the same machinery with the
// triangle filter (support 1, widened when downscaling). diffusers' VideoProcessor (the Cosmos
// pipelines' `resample="bilinear"`) resizes PIL video frames with exactly this.
at::Tensor resize_bilinear(const at::Tensor& rgb, std::int64_t out_height, std::int64_t out_width);

}  // namespace duogen::image
