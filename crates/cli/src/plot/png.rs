//! SVG to PNG, with the font bundled so that text renders on any machine.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use resvg::{tiny_skia, usvg};

/// DejaVu Sans (see `assets/DejaVuSans-LICENSE.txt`), so that PNGs need no system fonts.
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Rasterizes `svg` at twice its size (sharp on high-density screens) and writes it to `path`.
pub fn write_png(svg: &str, path: &Path) -> Result<()> {
    let bytes = render(svg, 2.0)?;
    super::write_file(path, &bytes)
}

/// The PNG file's bytes for `svg` scaled by `zoom`.
pub fn render(svg: &str, zoom: f32) -> Result<Vec<u8>> {
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_font_data(FONT.to_vec());
    fonts.set_sans_serif_family("DejaVu Sans");
    let options = usvg::Options { fontdb: Arc::new(fonts), ..usvg::Options::default() };
    let tree = usvg::Tree::from_str(svg, &options).context("internal error: the plot is not valid SVG")?;
    let size = tree.size().to_int_size().scale_by(zoom).context("plot has no size")?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).context("plot too large to rasterize")?;
    resvg::render(&tree, tiny_skia::Transform::from_scale(zoom, zoom), &mut pixmap.as_mut());
    pixmap.encode_png().context("cannot encode PNG")
}
