"""The play page in a real headless Chromium (Debian's `chromium`, driven by Playwright with
executable_path; .ci/run installs both): whole tic-tac-toe games clicked from both seats
with the result checked against the board, an illegal click refused without a request,
undo, and a screenshot of a finished game in build/test-artifacts/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.actor.helpers import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "build" / "test-artifacts"
TIMEOUT_MS = 60_000
LINES = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium package (.ci/run installs it)")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def board(page) -> list[str]:
    """The marks the page shows, cell by cell: "X", "O" or "."."""
    marks = []
    for cell in page.locator("#board .cell").all():
        piece = cell.locator(".piece")
        marks.append(piece.get_attribute("class").split()[-1] if piece.count() else ".")
    return marks


def winner(marks: list[str]) -> str | None:
    for a, b, c in LINES:
        if marks[a] != "." and marks[a] == marks[b] == marks[c]:
            return marks[a]
    return None


def wait_until_settled(page, moves: int) -> None:
    """Until the move list holds at least `moves` moves and it is our turn or the game is
    over. The move count matters: right after a click the status still shows the turn
    from before it."""
    page.wait_for_function("""(moves) => {
        const status = document.getElementById('status').textContent;
        return document.querySelectorAll('#move-list li').length >= moves
            && /Your move|Game over/.test(status);
    }""", arg=moves)


def play_out(page, seat: str) -> str:
    """Click the first empty cell on each of our turns until the game ends; the status."""
    page.locator("#seat").select_option(seat)
    wait_until_settled(page, int(seat))  # as O, the model opens
    for _ in range(9):
        status = page.locator("#status").text_content()
        if status.startswith("Game over"):
            return status
        before = page.locator("#move-list li").count()
        page.locator('#board .cell[aria-label$="empty"]').first.click()
        # Our move and the model's answer, or our move alone if it ended the game.
        wait_until_settled(page, before + 1)
        if not page.locator("#status").text_content().startswith("Game over"):
            wait_until_settled(page, before + 2)
    return page.locator("#status").text_content()


@pytest.mark.parametrize(("seat", "mark"), [("0", "X"), ("1", "O")])
def test_a_whole_game_by_clicking_shows_the_right_result(serve, page, seat, mark):
    web = serve(publish_models=1)
    page.goto(web.url + "/play?game=tictactoe")
    page.locator("#simulations").fill("50")
    status = play_out(page, seat)
    marks = board(page)
    won = winner(marks)
    if won is None:
        assert "." not in marks, marks  # no line and no empty cell: a draw
        assert status == "Game over: draw. Draw."
    else:
        verdict = "You win!" if won == mark else "The model wins."
        assert status == f"Game over: {won} wins. {verdict}"
    moves = page.locator("#move-list li")
    assert moves.count() == sum(m != "." for m in marks)
    assert page.locator("#move-list li.model").count() == sum(m not in (".", mark) for m in marks)
    assert "value" in page.locator("#analysis").text_content() or won == mark
    assert page.locator("#message").text_content() == ""  # no click was refused
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"play-tictactoe-seat{seat}.png"), full_page=True)


def test_a_new_game_drops_the_answers_of_the_games_before_it(serve, page):
    # The seat changes while the page is still loading its first game and while the
    # model is thinking for the games after it: only the last game's answers may land
    # (CI once saw an old game's move applied to a new one, and the next click refused).
    web = serve(publish_models=1)
    page.goto(web.url + "/play?game=tictactoe")
    page.locator("#simulations").fill("400")  # slow answers: they arrive after the changes
    for seat in ("1", "0", "1"):
        page.locator("#seat").select_option(seat)
    page.wait_for_load_state("networkidle")  # every answer, stale ones included, is in
    wait_until_settled(page, 1)
    assert board(page).count("X") == 1 and board(page).count("O") == 0  # the model opened
    assert page.locator("#move-list li").count() == 1
    assert page.locator("#status").text_content() == "Your move (O)"
    assert page.locator("#message").text_content() == ""
    page.locator('#board .cell[aria-label$="empty"]').first.click()  # and play goes on
    wait_until_settled(page, 3)
    assert page.locator("#message").text_content() == ""


def test_an_illegal_click_is_refused_without_a_request(serve, page):
    web = serve(publish_models=1)
    page.goto(web.url + "/play?game=tictactoe")
    page.locator("#simulations").fill("20")
    wait_until_settled(page, 0)
    page.locator('#board .cell[data-action="4"]').click()
    wait_until_settled(page, 2)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    occupied = page.locator('#board .cell:not([aria-label$="empty"])').first
    occupied.click()
    assert "Illegal move" in page.locator("#message").text_content()
    assert not [url for url in requests if "/api/" in url]
    # Undo takes back our move and the model's answer: an empty board, our turn again.
    page.locator("#undo").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#board .piece').length === 0")
    assert page.locator("#status").text_content() == "Your move (X)"
    assert page.locator("#move-list li").count() == 0


def test_connect4_columns_and_model_choice(serve, page):
    web = serve(publish_models=0)
    page.goto(web.url + "/play?game=connect4")
    page.locator("#simulations").fill("8")
    wait_until_settled(page, 0)
    assert page.locator("#model option").first.text_content() == "latest (none yet: search only)"
    page.locator('#board .cell[data-row="0"][data-col="3"]').click()  # any cell of column 4
    wait_until_settled(page, 2)
    marks = board(page)
    assert marks[5 * 7 + 3] == "X"  # the piece fell to the bottom row
    assert marks.count("O") == 1 and "uniform" in page.locator("#analysis").text_content()
