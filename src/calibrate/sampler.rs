//! Reading the GPUs at a steady interval.
