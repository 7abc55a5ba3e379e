//! Layer media types and the decompressors they need: gzip, zstd (every frame, skippable
//! frames skipped, as zstd:chunked writes them) or none.

use std::io::{self, BufRead, Read};

use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// How a layer's tar is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The compression of a layer media type, or why it cannot be unpacked.
pub fn layer_compression(media_type: Option<&str>) -> Result<Compression, String> {
    let Some(media_type) = media_type else {
        return Err("is missing (a layer must say what it is)".to_owned());
    };
    match media_type {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Ok(Compression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => Ok(Compression::Gzip),
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Ok(Compression::Zstd),
        t if t.contains("foreign") || t.contains("nondistributable") => Err(
            "is a foreign (non-distributable) layer: its content is not in the registry but at \
             URLs outside it, which are not followed; push the image with its layers included \
             (e.g. `crane mutate --allow-nondistributable-artifacts`, or rebuild on a Linux base)"
                .to_owned(),
        ),
        _ => Err(
            "is not a container image layer this runtime unpacks (OCI or Docker v2 tar, \
             uncompressed, gzip or zstd)"
                .to_owned(),
        ),
    }
}

/// The tar stream of a blob.
pub fn decoder<'a, R: BufRead + 'a>(compression: Compression, blob: R) -> Box<dyn Read + 'a> {
    match compression {
        Compression::None => Box::new(blob),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(blob)),
        Compression::Zstd => Box::new(ZstdFrames {
            source: blob,
            decoder: FrameDecoder::new(),
            in_frame: false,
        }),
    }
}

/// A zstd stream of one or more frames (skippable frames skipped).
struct ZstdFrames<R> {
    source: R,
    decoder: FrameDecoder,
    in_frame: bool,
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                if self.source.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                match self.decoder.reset(&mut self.source) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => {
                        let skipped = io::copy(
                            &mut (&mut self.source).take(u64::from(length)),
                            &mut io::sink(),
                        )?;
                        if skipped != u64::from(length) {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "zstd: a skippable frame is cut short",
                            ));
                        }
                        continue;
                    }
                    Err(e) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("zstd: {e}"),
                        ));
                    }
                }
            }
            while self.decoder.can_collect() < buf.len() && !self.decoder.is_finished() {
                let wanted = buf.len() - self.decoder.can_collect();
                self.decoder
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBytes(wanted))
                    .map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("zstd: {e}"))
                    })?;
            }
            let n = self.decoder.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if self.decoder.is_finished() {
                self.in_frame = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    #[test]
    fn zstd_reads_every_frame_and_skips_skippable_ones() {
        let mut stream = zstd(b"first frame, ");
        // A skippable frame (magic 0x184D2A50, 4-byte length, payload), as zstd:chunked adds.
        stream.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
        stream.extend_from_slice(&5u32.to_le_bytes());
        stream.extend_from_slice(b"junk!");
        stream.extend(zstd(&vec![b'x'; 300_000]));
        let mut out = Vec::new();
        decoder(Compression::Zstd, stream.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&out[..13], b"first frame, ");
        assert_eq!(out.len(), 13 + 300_000);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        assert!(
            decoder(Compression::Zstd, &b"not zstd at all"[..])
                .read_to_end(&mut out)
                .is_err()
        );
        assert!(
            decoder(Compression::Gzip, &b"not gzip at all"[..])
                .read_to_end(&mut out)
                .is_err()
        );
    }

    #[test]
    fn media_types() {
        assert_eq!(
            layer_compression(Some("application/vnd.oci.image.layer.v1.tar+zstd")),
            Ok(Compression::Zstd)
        );
        assert_eq!(
            layer_compression(Some("application/vnd.docker.image.rootfs.diff.tar.gzip")),
            Ok(Compression::Gzip)
        );
        let foreign = layer_compression(Some(
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        ));
        assert!(foreign.is_err_and(|e| e.contains("foreign")));
        assert!(
            layer_compression(Some("application/vnd.cncf.helm.chart.content.v1.tar+gzip")).is_err()
        );
        assert!(layer_compression(None).is_err());
    }
}
