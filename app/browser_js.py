"""The few things only the browser can do, as JavaScript run by Gradio events (``js=``): warn before a
reload or a closed tab would lose an unsaved caption, and come back to the tab the user was on."""

from __future__ import annotations

#: On page load: the unsaved-edit guard, remembering the chosen tab (per browser tab), and reopening it.
ON_LOAD = """() => {
  window.addEventListener('beforeunload', (event) => {
    if (window.studioUnsaved) { event.preventDefault(); event.returnValue = ''; }
  });
  document.addEventListener('click', (event) => {
    const tab = event.target.closest && event.target.closest('button[role="tab"]');
    if (tab) sessionStorage.setItem('studioTab', tab.textContent.trim());
  }, true);
  const name = sessionStorage.getItem('studioTab');
  const tab = name && [...document.querySelectorAll('button[role="tab"]')].find((b) => b.textContent.trim() === name);
  if (tab) tab.click();
}"""
#: A field of the song editor was typed into: a reload now asks first.
EDITED = "() => { window.studioUnsaved = true; }"
#: The song was saved or another one opened: nothing to lose.
SAVED = "() => { window.studioUnsaved = false; }"
