package chat

import (
	"fmt"
	"time"

	"github.com/cometgen/cometgen/examples/chat/chat/channels"
)

// installNotices sets the lazy timeout of /system/notice (the spec makes it
// lazy), starts the periodic notice when Options.NoticeEvery asks for one,
// and publishes the shutdown notice when the server starts shutting down.
func (c *Chat) installNotices() {
	if c.opts.NoticeLazyTimeout > 0 {
		// The contract makes the channel lazy within the server's maximum;
		// the runtime channel's own setting is shorter.
		if ch, _, err := c.srv.CreateChannel(channels.SystemNoticePattern); err == nil {
			ch.SetPersistent(true)
			ch.SetLazy(true)
			ch.SetLazyTimeout(c.opts.NoticeLazyTimeout)
		}
	}
	c.srv.OnShutdown(func() {
		c.stopOnce.Do(func() {
			close(c.stop)
			<-c.done
		})
		if err := c.Notice(c.opts.ShutdownText); err != nil {
			c.log.Warn("chat: shutdown notice not published", "err", err)
		}
	})
	if c.opts.NoticeEvery <= 0 {
		close(c.done)
		return
	}
	go c.tick(c.opts.NoticeEvery)
}

// tick publishes the periodic notice until the server shuts down.
func (c *Chat) tick(every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if err := c.Notice(c.opts.NoticeText); err != nil {
				c.log.Warn("chat: periodic notice not published", "err", err)
			}
		}
	}
}

// Notice publishes a notice on /system/notice. Notices are lazy: each
// reaches a client with its next other message, or after the lazy timeout.
// The server publishes them itself: the spec allows only the server to
// publish there, which excludes a LocalSession.
func (c *Chat) Notice(text string) error {
	n := channels.SystemNoticeMessage{Text: text, Time: time.Now().UTC().Truncate(time.Millisecond)}
	if _, err := channels.PublishSystemNotice(c.srv, &n); err != nil {
		return fmt.Errorf("chat: notice: %w", err)
	}
	return nil
}
