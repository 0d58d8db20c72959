// Enter sends, Shift+Enter (or Enter while an input method is composing) inserts a new line,
// and the text box grows with its content up to a limit.
const grow = input => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
};

export function attach(input, dotnet) {
    const state = {
        onKeyDown: e => {
            if (e.key !== 'Enter' || e.shiftKey || e.isComposing) {
                return;
            }
            e.preventDefault();
            const text = input.value;
            if (text.trim().length === 0) {
                return;
            }
            input.value = '';
            grow(input);
            dotnet.invokeMethodAsync('SubmitFromKeyboard', text);
        },
        onInput: () => grow(input),
    };
    input.addEventListener('keydown', state.onKeyDown);
    input.addEventListener('input', state.onInput);
    input._cim = state;
    // Lets a test (or anything else) see that Enter now sends.
    input.dataset.keyboard = 'attached';
    input.focus();
}

export function reset(input) {
    input.value = '';
    grow(input);
    input.focus();
}

export function detach(input) {
    const state = input._cim;
    if (state) {
        input.removeEventListener('keydown', state.onKeyDown);
        input.removeEventListener('input', state.onInput);
        delete input._cim;
        delete input.dataset.keyboard;
    }
}
