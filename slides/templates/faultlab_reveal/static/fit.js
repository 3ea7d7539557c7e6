/* Slides that fit the frame.  Each slide's content is wrapped in one box; when
   the box is wider or taller than the presentation (Reveal's width x height),
   it is scaled down to fit, but never below MIN_SCALE: a slide that would need
   more stays too big, and the deck test reports it.  The scale is recomputed
   when the slide is shown and whenever its content changes (widgets render
   after the page has loaded, images arrive late). */
window.faultlabFit = (function () {
    "use strict";
    var MIN_SCALE = 0.45;
    var reveal = null;

    function box(slide) {
        var first = slide.firstElementChild;
        if (first && first.classList.contains("fl-fit") && slide.children.length === 1) return first;
        var wrap = document.createElement("div");
        wrap.className = "fl-fit";
        while (slide.firstChild) wrap.appendChild(slide.firstChild);
        slide.appendChild(wrap);
        return wrap;
    }

    function fit(slide) {
        if (!slide) return;
        var wrap = box(slide);
        var cfg = reveal.getConfig();
        // scrollWidth/scrollHeight are layout sizes: the transform does not change them.
        var w = wrap.scrollWidth, h = wrap.scrollHeight;
        var scale = Math.min(1, cfg.width / w, cfg.height / h);
        scale = Math.max(scale, MIN_SCALE);
        // Scaled from the top left corner, then centred: content wider than
        // the frame runs off to the right, so scaling about the centre would
        // leave it outside.
        var dx = (cfg.width - Math.max(w, cfg.width) * scale) / 2;
        var wanted = scale < 0.999 ? "translateX(" + dx.toFixed(1) + "px) scale(" + scale.toFixed(4) + ")" : "";
        if (wrap.style.transform !== wanted) wrap.style.transform = wanted;
        slide.setAttribute("data-fit-scale", scale.toFixed(3));
    }

    function watch(slide) {
        var pending = false;
        var again = function () {
            if (pending) return;
            pending = true;
            window.requestAnimationFrame(function () { pending = false; fit(slide); });
        };
        new MutationObserver(again).observe(slide, {childList: true, subtree: true, characterData: true});
        slide.addEventListener("load", again, true);  // images inside the slide
    }

    function start(r) {
        reveal = r;
        r.getSlides().forEach(function (slide) { box(slide); watch(slide); });
        fit(r.getCurrentSlide());
        r.on("slidechanged", function (event) { fit(event.currentSlide); });
        r.on("resize", function () { fit(r.getCurrentSlide()); });
        document.documentElement.setAttribute("data-faultlab-slides", "ready");
    }

    return {start: start, fit: fit, MIN_SCALE: MIN_SCALE};
}());
