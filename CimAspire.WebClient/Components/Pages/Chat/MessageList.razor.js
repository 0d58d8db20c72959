// Keeps the message list scrolled to the newest message unless the user scrolled back,
// and asks for older messages when the user reaches the top, keeping the view where it was.
const nearBottom = list => list.scrollHeight - list.scrollTop - list.clientHeight < 48;
const frame = () => new Promise(resolve => requestAnimationFrame(() => resolve()));

export function attach(list, dotnet) {
    const state = { stick: true, loading: false, dotnet };
    state.onScroll = () => {
        if (state.loading) {
            return;
        }
        state.stick = nearBottom(list);
        if (list.scrollTop < 60) {
            loadOlder(list);
        }
    };
    state.observer = new MutationObserver(() => {
        if (state.stick && !state.loading) {
            list.scrollTop = list.scrollHeight;
        }
    });
    state.observer.observe(list, { childList: true, subtree: true, characterData: true });
    list.addEventListener('scroll', state.onScroll, { passive: true });
    list._cim = state;
    list.scrollTop = list.scrollHeight;
    return -new Date().getTimezoneOffset();
}

export async function loadOlder(list) {
    const state = list._cim;
    if (!state || state.loading) {
        return;
    }
    state.loading = true;
    const fromBottom = list.scrollHeight - list.scrollTop;
    try {
        const loaded = await state.dotnet.invokeMethodAsync('LoadOlder');
        if (loaded) {
            await frame();
            // Older messages went in above: keep the same messages in view.
            list.scrollTop = list.scrollHeight - fromBottom;
        }
    } finally {
        state.loading = false;
        state.stick = nearBottom(list);
    }
}

export function detach(list) {
    const state = list._cim;
    if (state) {
        state.observer.disconnect();
        list.removeEventListener('scroll', state.onScroll);
        delete list._cim;
    }
}
