pub use testwerk_pipeline::*;
