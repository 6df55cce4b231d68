//! Integration tests: the library against closed forms and reference simulations, the CLI as a
//! process, golden files, and properties.

mod authoring;
mod calibrate;
mod cli;
mod elastic;
mod first_hour;
mod golden;
mod hostile;
mod interruptions;
mod layers;
mod llm;
mod llm_validation;
mod nvml;
mod optimize;
mod preview;
mod properties;
mod purchase;
mod reference;
mod rules;
mod schema;
mod support;
mod sweep;
mod training;
mod training_validation;
mod tui;
