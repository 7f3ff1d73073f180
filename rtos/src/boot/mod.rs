//! What the boot loader told us: memory map, command line, boot modules, ACPI root.
pub mod cmdline;
pub mod info;
