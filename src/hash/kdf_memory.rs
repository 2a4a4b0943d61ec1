//! argon2id's working memory: mapped fresh for every run, on huge pages where the kernel has them.

use argon2::Block;

use crate::error::Error;

/// The x86_64 huge-page (PMD) size. The mapping starts on this boundary and spans whole huge pages,
/// so with transparent huge pages (`enabled` = always or madvise) the kernel backs 19 MiB with ten
/// 2 MiB pages: ten page faults instead of 4,864, and fewer TLB misses in argon2's random reads.
/// Where huge pages are off or none is free, the same mapping simply gets 4 KiB pages.
const HUGE_PAGE: usize = 2 << 20;

/// Mapped fresh for every run and unmapped after: each verification and each decoy then costs the
/// same page faults, whatever the host process's heap looks like (inside a long-lived process a
/// reused heap block would make some runs measurably cheaper).
pub(super) struct Blocks {
    ptr: std::ptr::NonNull<Block>,
    len: usize,
    mapped: usize,
}

impl Blocks {
    pub(super) fn map(len: usize) -> Result<Self, Error> {
        let mapped = (len * std::mem::size_of::<Block>()).next_multiple_of(HUGE_PAGE);
        // One huge page more than needed, so that a huge-page boundary lies inside; the ends around
        // it are unmapped again below.
        let over = mapped + HUGE_PAGE;
        // SAFETY: a private anonymous mapping, checked for failure; zero-filled pages are valid Blocks.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                over,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(Error::Hash(format!("cannot map {over} bytes for argon2id")));
        }
        let head = (raw as usize).next_multiple_of(HUGE_PAGE) - raw as usize;
        // SAFETY: head + mapped + tail = over, all inside the mapping just made; both ends are whole
        // 4 KiB pages because mmap returns a page-aligned address.
        let start = unsafe {
            let start = raw.cast::<u8>().add(head).cast::<libc::c_void>();
            if head > 0 {
                libc::munmap(raw, head);
            }
            if head < HUGE_PAGE {
                libc::munmap(start.cast::<u8>().add(mapped).cast(), HUGE_PAGE - head);
            }
            // Advice only: where transparent huge pages are off this fails or does nothing, and
            // the run goes on with ordinary pages.
            libc::madvise(start, mapped, libc::MADV_HUGEPAGE);
            start
        };
        let ptr = std::ptr::NonNull::new(start.cast::<Block>()).ok_or_else(|| Error::Hash("mmap gave NULL".into()))?;
        Ok(Blocks { ptr, len, mapped })
    }
}

impl AsMut<[Block]> for Blocks {
    fn as_mut(&mut self) -> &mut [Block] {
        // SAFETY: the mapping holds at least `len` Blocks, huge-page-aligned (Block needs 64), owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `map` kept; the kernel zeroes the pages before reuse.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.mapped) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_starts_on_a_huge_page_and_spans_whole_ones() {
        for blocks in [8, 19_456, 262_144] {
            let mut m = Blocks::map(blocks).unwrap();
            assert_eq!(m.ptr.as_ptr() as usize % HUGE_PAGE, 0, "{blocks} blocks");
            assert_eq!(m.mapped % HUGE_PAGE, 0);
            assert!(m.mapped >= blocks * 1024);
            let mem = m.as_mut();
            assert_eq!(mem.len(), blocks);
            // Every block is zero-filled and writable, the last one too.
            assert!(mem[blocks - 1].as_ref().iter().all(|&w| w == 0));
            mem[blocks - 1].as_mut()[0] = 1;
        }
    }
}
