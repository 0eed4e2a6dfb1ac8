//! GlobalPlatform commands.
