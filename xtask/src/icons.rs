//! The extension's icons: one SVG source (`extension/icons/cairn.svg`), drawn
//! into the PNG sizes the manifest names when the package is built, so that the
//! mark is changed in one place and never drifts between sizes.

use std::fs;
use std::path::Path;

use crate::util::Result;

/// The sizes browsers ask for: toolbar (16, 32 on high-DPI), extensions page (48), store (128).
pub const SIZES: [u32; 4] = [16, 32, 48, 128];

/// Draws `icons/cairn.svg` under `package` as `icons/icon-{size}.png` for every size.
pub fn render_into(package: &Path) -> Result {
    let source = package.join("icons/cairn.svg");
    let svg = fs::read(&source).map_err(|e| format!("could not read the icon source {}: {e}", source.display()))?;
    let tree = resvg::usvg::Tree::from_data(&svg, &resvg::usvg::Options::default())
        .map_err(|e| format!("{} is not an SVG resvg can draw: {e}", source.display()))?;
    for size in SIZES {
        let mut pixmap = resvg::tiny_skia::Pixmap::new(size, size).ok_or("an icon size of 0")?;
        let scale = size as f32 / tree.size().width().max(tree.size().height());
        resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
        let out = package.join(format!("icons/icon-{size}.png"));
        pixmap.save_png(&out).map_err(|e| format!("could not write {}: {e}", out.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_is_drawn_from_the_svg_and_is_not_blank() {
        let dir = std::env::temp_dir().join(format!("cairn-icons-{}", std::process::id()));
        fs::create_dir_all(dir.join("icons")).unwrap();
        fs::copy(crate::util::project_root().join("extension/icons/cairn.svg"), dir.join("icons/cairn.svg")).unwrap();
        render_into(&dir).unwrap();
        for size in SIZES {
            let png = resvg::tiny_skia::Pixmap::load_png(dir.join(format!("icons/icon-{size}.png"))).unwrap();
            assert_eq!((png.width(), png.height()), (size, size));
            // The tile's colour at the centre column, near the top: drawn, opaque.
            let px = png.pixel(size / 2, size / 8).unwrap();
            assert_eq!(px.alpha(), 255, "size {size}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
