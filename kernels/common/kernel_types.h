// Types shared by kernel launchers and host wrappers. No torch includes below this line: the
// kernels see plain pointers and sizes only.
#pragma once

namespace duogen::kernels {

// Element type of a kernel's floating-point tensors.
enum class KernelDType { kF32, kF16, kBF16 };

}  // namespace duogen::kernels
