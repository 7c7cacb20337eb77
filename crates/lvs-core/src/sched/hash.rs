//! Hash functions the kernel's hashing schedulers use (`hash_32`, and the
//! 64-bit `hsiphash` used by mh). Placeholder until implemented.
