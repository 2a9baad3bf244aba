//! uniffi's binding generator, built at the same uniffi version as
//! `client-sdk-ffi`, so generated bindings always match the library.

fn main() {
    uniffi::uniffi_bindgen_main()
}
