//! Least-squares fits of the simulator's parameters, and the rules for refusing a fit.
