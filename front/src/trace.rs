//! Tracing (feature `tracing`): spans on a `get` that waits or creates (`cenote.get`), on
//! each create (`cenote.create`) and each health check (`cenote.check`), every one with the
//! pool's `name` as `pool` and its `outcome` ("ok", "timeout", "closed", "error", "failed");
//! a `debug` event (`cenote.dropped`, with its `reason`) for every object the pool drops.
//!
//! With the feature off, [`Span`] is a zero-sized type whose methods do nothing and every
//! call below compiles away; the hot path (a `get` that finds an idle object) makes no span
//! either way.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::front::{Front, Shared};
use crate::metrics::Dropped;

/// A span, or nothing when the `tracing` feature is off.
#[derive(Clone, Debug, Default)]
pub struct Span {
    #[cfg(feature = "tracing")]
    inner: Option<tracing::Span>,
}

impl Span {
    /// Records how the spanned work ended.
    #[inline]
    pub fn outcome(&self, outcome: &'static str) {
        #[cfg(feature = "tracing")]
        if let Some(span) = &self.inner {
            span.record("outcome", outcome);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = outcome;
    }

    /// Enters the span until the guard is dropped (for blocking work).
    #[inline]
    pub fn enter(&self) -> Entered<'_> {
        Entered {
            #[cfg(feature = "tracing")]
            _guard: self.inner.as_ref().map(tracing::Span::enter),
            _span: core::marker::PhantomData,
        }
    }

    /// Runs `f` inside this span (for blocking work).
    #[inline]
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        f()
    }

    /// `fut`, entered into this span each time it is polled (for async work).
    pub fn wrap<Fut: Future>(self, fut: Fut) -> InSpan<Fut> {
        InSpan { span: self, fut }
    }
}

/// The span is entered while this lives (see [`Span::enter`]).
#[derive(Debug)]
#[must_use = "the span is left when the guard is dropped"]
pub struct Entered<'a> {
    #[cfg(feature = "tracing")]
    _guard: Option<tracing::span::Entered<'a>>,
    _span: core::marker::PhantomData<&'a Span>,
}

/// A future run inside a [`Span`] (see [`Span::wrap`]).
#[derive(Debug)]
pub struct InSpan<Fut> {
    span: Span,
    fut: Fut,
}

impl<Fut: Future + Unpin> Future for InSpan<Fut> {
    type Output = Fut::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        // No pin projection (the crate forbids `unsafe`): the front ends wrap futures pinned
        // in place (`pin!`), which are `Unpin`.
        let this = self.get_mut();
        let _entered = this.span.enter();
        Pin::new(&mut this.fut).poll(cx)
    }
}

impl<F: Front> Shared<F> {
    /// A span named `what` for this pool, or nothing without the feature.
    #[inline]
    fn span(&self, what: SpanKind) -> Span {
        #[cfg(feature = "tracing")]
        {
            let name = self.config.name.as_str();
            let span = match what {
                SpanKind::Get => {
                    tracing::info_span!("cenote.get", pool = name, outcome = tracing::field::Empty)
                }
                SpanKind::Create => {
                    tracing::info_span!("cenote.create", pool = name, outcome = tracing::field::Empty)
                }
                SpanKind::Check => {
                    tracing::info_span!("cenote.check", pool = name, outcome = tracing::field::Empty)
                }
            };
            Span { inner: Some(span) }
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = what;
            Span {}
        }
    }

    /// The `cenote.dropped` event.
    #[inline]
    pub(crate) fn trace_dropped(&self, reason: Dropped) {
        #[cfg(feature = "tracing")]
        tracing::debug!(target: "cenote", pool = self.config.name.as_str(), reason = reason.name(), "cenote.dropped");
        #[cfg(not(feature = "tracing"))]
        let _ = reason;
    }
}

#[derive(Clone, Copy)]
enum SpanKind {
    Get,
    Create,
    Check,
}

impl<F: Front> crate::Handle<F> {
    /// For front ends: the span of a `get` that has to wait or create.
    #[inline]
    pub fn get_span(&self) -> Span {
        self.shared().span(SpanKind::Get)
    }

    /// For front ends: the span of one create.
    #[inline]
    pub fn create_span(&self) -> Span {
        self.shared().span(SpanKind::Create)
    }

    /// For front ends: the span of one health check (on lend or in maintenance).
    #[inline]
    pub fn check_span(&self) -> Span {
        self.shared().span(SpanKind::Check)
    }
}
