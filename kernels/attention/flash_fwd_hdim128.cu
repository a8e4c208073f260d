// Instantiations of the flash-attention forward kernel for head dim 128 (fp16 and bf16). One
// translation unit per head dim so nvcc builds them in parallel.
#include "kernels/attention/flash_fwd_kernel.cuh"

namespace duogen::kernels::detail {

template <>
cudaError_t launch_flash_fwd<__half, 128>(const FlashParams& params, cudaStream_t stream) {
  return flash::launch_fwd<__half, 128>(params, stream);
}

template <>
cudaError_t launch_flash_fwd<__nv_bfloat16, 128>(const FlashParams& params, cudaStream_t stream) {
  return flash::launch_fwd<__nv_bfloat16, 128>(params, stream);
}

}  // namespace duogen::kernels::detail
