#!/usr/bin/python3
"""webui.py - the web console in a real browser: Debian's headless chromium
driven by chromedriver through python3-selenium (run with /usr/bin/python3,
where python3-selenium is installed).

    webui.py BASE_URL PASSWORD SCREENSHOT_DIR RELEASE_ID DELETE_ID OTHER_ID EVIL_ID

Accounts as in webapi.py. RELEASE_ID and DELETE_ID are held messages to
a.example, OTHER_ID one to b.example, EVIL_ID one whose subject and body
are markup that would set document.title if it ran. Prints "ok<TAB>what" or
"not ok<TAB>what<TAB>detail" per check, "count<TAB>N" last, and saves a
screenshot of each screen in SCREENSHOT_DIR.
"""

import os
import shutil
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import (StaleElementReferenceException,
                                        TimeoutException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

results = []


def check(cond, what, detail=""):
    results.append((bool(cond), what, str(detail)[:300]))


def main():
    base, pw, shots, rel_id, del_id, other_id, evil_id = sys.argv[1:8]
    os.makedirs(shots, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="hs-chromium.")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1280,900",
              "--user-data-dir=" + profile, "--no-first-run",
              "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                           options=opts)
    drv.set_page_load_timeout(30)
    wait = WebDriverWait(drv, 15, ignored_exceptions=[StaleElementReferenceException])

    def shot(name):
        drv.save_screenshot(os.path.join(shots, name + ".png"))

    def login(name):
        drv.get(base + "/")
        drv.delete_all_cookies()
        drv.get("about:blank")
        drv.get(base + "/")
        wait.until(EC.presence_of_element_located((By.ID, "login-name")))
        drv.find_element(By.ID, "login-name").clear()
        drv.find_element(By.ID, "login-name").send_keys(name)
        drv.find_element(By.ID, "login-password").clear()
        drv.find_element(By.ID, "login-password").send_keys(pw)
        drv.find_element(By.ID, "login-submit").click()
        wait.until(EC.presence_of_element_located((By.ID, "qtable")))

    def rows(cls):
        return drv.find_elements(By.CSS_SELECTOR, "tr." + cls)

    def text_of(id_):
        # The page re-renders after an action: an element may go stale.
        for _ in range(50):
            try:
                return drv.find_element(By.ID, id_).text
            except StaleElementReferenceException:
                time.sleep(0.1)
        return drv.find_element(By.ID, id_).text

    def wait_text(id_, pred):
        try:
            wait.until(lambda d: pred(d.find_element(By.ID, id_).text))
        except TimeoutException:
            pass
        return text_of(id_)

    try:
        # A wrong password says so on the page.
        drv.get(base + "/")
        wait.until(EC.presence_of_element_located((By.ID, "login-name")))
        shot("01-login")
        drv.find_element(By.ID, "login-name").send_keys("admin")
        drv.find_element(By.ID, "login-password").send_keys("wrong")
        drv.find_element(By.ID, "login-submit").click()
        t = wait_text("login-error", lambda s: "wrong" in s)
        check("wrong name or password" in t, "a wrong password is refused on the page", t)

        # Admin: the quarantine, a message, release twice, delete.
        login("admin")
        ids = [r.get_attribute("data-id") for r in rows("qrow")]
        check(rel_id in ids and del_id in ids and other_id in ids,
              "admin's quarantine lists both domains' messages", ids)
        shot("02-quarantine-admin")
        evil = [r for r in rows("qrow") if r.get_attribute("data-id") == evil_id]
        cell = evil[0].find_element(By.CSS_SELECTOR, "td.subject").text if evil else ""
        check(cell.startswith("<img src=x onerror=") and
              not drv.find_elements(By.CSS_SELECTOR, "#qtable img") and
              drv.title != "pwned", "markup in a subject is shown as text", cell)
        drv.get(base + "/#/q/" + evil_id)
        wait.until(EC.presence_of_element_located((By.ID, "body")))
        body = text_of("body")
        check("<script>document.title='pwned'</script>" in body and
              drv.title != "pwned" and
              not drv.find_elements(By.CSS_SELECTOR, "#body script, #main img"),
              "and in a body: its source, not run", body[:80])
        shot("12-hostile-message")
        check(drv.title == "holdscan", "the page's title is still its own", drv.title)
        drv.get(base + "/#/q/" + rel_id)
        wait.until(EC.presence_of_element_located((By.ID, "headers")))
        check("X-Test-Token:" in text_of("headers"), "the message's headers are shown")
        shot("03-message")
        drv.find_element(By.ID, "release").click()
        t = wait_text("action-result", lambda s: s != "")
        check(t.startswith("Released as "), "Release: released as a new queue id", t)
        drv.find_element(By.ID, "release").click()
        t = wait_text("action-result", lambda s: s.startswith("Already"))
        check(t.startswith("Already released"), "a second click: already released", t)
        shot("04-released")
        print("released\t%s" % rel_id, file=sys.stderr)

        drv.get(base + "/#/q/" + del_id)
        wait.until(EC.presence_of_element_located((By.ID, "delete")))
        drv.find_element(By.ID, "delete").click()
        wait.until(EC.alert_is_present())
        drv.switch_to.alert.accept()
        t = wait_text("action-result", lambda s: s != "")
        check(t == "Deleted.", "Delete: deleted", t)

        # The quarantine list now: the released and deleted ones are not held.
        drv.get(base + "/#/quarantine")
        drv.refresh()
        wait.until(EC.presence_of_element_located((By.ID, "qtable")))
        ids = [r.get_attribute("data-id") for r in rows("qrow")]
        check(rel_id not in ids and del_id not in ids and other_id in ids,
              "held list: without the released and the deleted one", ids)

        # The message log: search by queue id, open the record.
        drv.get(base + "/#/log")
        wait.until(EC.presence_of_element_located((By.ID, "lfilter-id")))
        drv.find_element(By.ID, "lfilter-id").send_keys(rel_id)
        drv.find_element(By.ID, "lfilter-submit").click()
        try:
            wait.until(lambda d: len(rows("lrow")) == 1)
        except TimeoutException:
            pass
        found = rows("lrow")
        check(len(found) == 1, "the log search by quarantine id finds its record", len(found))
        shot("05-log")
        if found:
            found[0].click()
            wait.until(EC.presence_of_element_located((By.ID, "trace")))
            t = text_of("trace")
            check(rel_id in t and "→" in t, "the detail shows the id trace", t)
            ev = drv.find_element(By.CSS_SELECTOR, "ul.events").text
            check("released" in ev and "admin via web" in ev,
                  "and the release event with who did it", ev)
            shot("06-detail")

        drv.get(base + "/#/stats")
        wait.until(EC.presence_of_element_located((By.ID, "chart")))
        bars = drv.find_elements(By.CSS_SELECTOR, "#chart rect")
        check(len(bars) >= 1, "statistics: the chart has bars", len(bars))
        shot("07-stats")
        drv.find_element(By.ID, "stats-7d").click()
        time.sleep(1)
        wait.until(EC.presence_of_element_located((By.ID, "chart")))
        shot("08-stats-7d")
        # A bulk action: tick the hostile message, delete the selection.
        drv.get(base + "/#/quarantine")
        wait.until(EC.presence_of_element_located((By.ID, "qtable")))
        box = drv.find_element(By.CSS_SELECTOR,
                               "input.qpick[value='%s']" % evil_id)
        box.click()
        drv.find_element(By.ID, "bulk-delete").click()
        wait.until(EC.alert_is_present())
        drv.switch_to.alert.accept()
        t = wait_text("flash", lambda s: s.startswith("delete:"))
        try:
            wait.until(lambda d: evil_id not in [
                r.get_attribute("data-id") for r in rows("qrow")])
        except TimeoutException:
            pass
        ids = [r.get_attribute("data-id") for r in rows("qrow")]
        check(t == "delete: 1 done" and evil_id not in ids,
              "bulk delete of the ticked message", (t, ids))
        shot("13-bulk-deleted")

        drv.find_element(By.ID, "logout").click()
        wait.until(EC.presence_of_element_located((By.ID, "login-name")))

        # Domain admin alice: a.example only, in the list and by URL.
        login("alice")
        rs = rows("qrow")
        tos = [r.find_elements(By.TAG_NAME, "td")[3].text for r in rs]
        check(rs and all(t.endswith("@a.example") for t in tos),
              "alice's quarantine: a.example only", tos)
        shot("09-quarantine-domain-admin")
        drv.get(base + "/#/q/" + other_id)
        t = wait_text("message-error", lambda s: s != "")
        check(t == "No such message.", "alice opening b.example's message: no such message", t)
        shot("10-domain-admin-refused")
        drv.get(base + "/#/log")
        wait.until(EC.presence_of_element_located((By.ID, "ltable")))
        tos = [r.find_elements(By.TAG_NAME, "td")[3].text for r in rows("lrow")]
        check(tos and all("@a.example" in t and "@b.example" not in t for t in tos),
              "alice's message log: a.example only", tos)

        # User bob: his one message.
        login("bob")
        ids = [r.get_attribute("data-id") for r in rows("qrow")]
        check(ids == [other_id], "user bob sees his one message", ids)
        shot("11-quarantine-user")
    except Exception as e:
        check(False, "the browser session ran to the end", repr(e))
        try:
            shot("99-failure")
            for entry in drv.get_log("browser"):
                print("browser: %s" % entry.get("message"), file=sys.stderr)
        except Exception:
            pass
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)
    for good, what, detail in results:
        print("%s\t%s%s" % ("ok" if good else "not ok", what,
                            "" if good else "\t" + detail))
    print("count\t%d" % len(results))


if __name__ == "__main__":
    main()
