//! A spool: bytes written to an anonymous temporary file and copied out at the end, for formats
//! that must group what arrives in another order (JUnit's test suites) without holding it.

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};

/// Bytes set aside on disk.
pub struct Spool {
    file: BufWriter<File>,
}

impl Spool {
    /// A new, empty spool in the temporary directory (removed when dropped).
    pub fn new() -> io::Result<Spool> {
        Ok(Spool {
            file: BufWriter::new(tempfile::tempfile()?),
        })
    }

    /// Copies everything written so far to `out`, and empties the spool.
    pub fn drain_into(&mut self, out: &mut dyn Write) -> io::Result<()> {
        self.file.flush()?;
        let file = self.file.get_mut();
        file.rewind()?;
        io::copy(file, out)?;
        file.rewind()?;
        file.set_len(0)?;
        Ok(())
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
