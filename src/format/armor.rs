//! ASCII armor (being written).
#![allow(missing_docs, dead_code)]
// TEMPORARY compile stub (lead) — replaced by the real armor module.
use std::io;
pub fn is_armored(_p: &[u8]) -> bool {
    false
}
pub struct ArmoredReader<R>(R);
impl<R: io::BufRead> ArmoredReader<R> {
    pub fn new(r: R) -> Self {
        ArmoredReader(r)
    }
}
impl<R: io::BufRead> io::Read for ArmoredReader<R> {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        self.0.read(b)
    }
}
pub struct ArmoredWriter<W>(W);
impl<W: io::Write> ArmoredWriter<W> {
    pub fn new(_w: W) -> io::Result<Self> {
        Err(io::Error::other("ascii armor is not implemented yet"))
    }
    pub fn finish(self) -> io::Result<W> {
        Ok(self.0)
    }
}
impl<W: io::Write> io::Write for ArmoredWriter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
