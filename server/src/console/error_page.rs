//! Error pages (403, 404, 500, ...) inside the layout.

use maud::{html, Markup};

use super::i18n::Text;
use super::layout::{self, PageContext};
use super::urls;

/// An error page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorPage {
    /// The HTTP status the handler answers with.
    pub status: u16,
    /// The error code, shown in small print (`forbidden`, `not_found`, ...).
    pub code: Option<String>,
}

/// An error page; signed-out visitors (`ctx.user` is `None`) get no navigation.
pub fn error_page(ctx: &PageContext, page: &ErrorPage) -> Markup {
    let lang = ctx.lang;
    let (title, body) = match page.status {
        403 => (Text::Error403, Text::Error403Body),
        404 => (Text::Error404, Text::Error404Body),
        500..=599 => (Text::Error500, Text::Error500Body),
        _ => (Text::ErrorOther, Text::Error500Body),
    };
    let content = html! {
        div.card.error-box {
            p { (lang.t(body)) }
            @if let Some(code) = &page.code {
                p.meta { (lang.t(Text::ErrorCode)) ": " code { (code) } " (" (page.status) ")" }
            }
            p { a.button href=(urls::HOME) { (lang.t(Text::GoHome)) } }
        }
    };
    layout::page(ctx, None, lang.t(title), content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::testing::*;

    #[test]
    fn status_pages() {
        let html = error_page(
            &context(),
            &ErrorPage {
                status: 404,
                code: Some("not_found".into()),
            },
        )
        .into_string();
        sample("error-404-th", &html);
        assert!(html.contains("<h1>ไม่พบหน้าที่ต้องการ</h1>"));
        assert!(html.contains("<code>not_found</code>"));
        assert!(html.contains("<nav"));
        check_accessible(&html);
        let html = error_page(
            &english(),
            &ErrorPage {
                status: 403,
                code: None,
            },
        )
        .into_string();
        assert!(html.contains("<h1>You may not see this page</h1>"));
        let mut ctx = context();
        ctx.user = None;
        let html = error_page(
            &ctx,
            &ErrorPage {
                status: 503,
                code: Some("store_unavailable".into()),
            },
        )
        .into_string();
        sample("error-503-signed-out", &html);
        assert!(html.contains("<h1>ระบบขัดข้องชั่วคราว</h1>"));
        assert!(!html.contains("<nav"));
        check_accessible(&html);
        let html = error_page(
            &ctx,
            &ErrorPage {
                status: 400,
                code: None,
            },
        )
        .into_string();
        assert!(html.contains("<h1>ไม่สามารถทำรายการได้</h1>"));
    }
}
