package chat

import (
	"context"
	"fmt"
	"time"

	"github.com/cometgen/cometgen/runtime"
)

// installNotices makes /system/notice lazy, starts the system session that
// publishes on it, and the periodic notice when Options.NoticeEvery asks
// for one.
func (c *Chat) installNotices() error {
	_, _, err := c.srv.CreateChannel(NoticeChannel, func(ch *runtime.Channel) {
		ch.SetPersistent(true)
		ch.SetLazy(true)
		ch.SetLazyTimeout(c.opts.NoticeLazyTimeout)
	})
	if err != nil {
		return fmt.Errorf("chat: notices: %w", err)
	}
	c.system = c.srv.NewLocalSession(SystemUser)
	if err := c.system.Handshake(context.Background()); err != nil {
		return fmt.Errorf("chat: system session: %w", err)
	}
	c.system.Session().SetUser(SystemUser)
	if c.opts.NoticeEvery <= 0 {
		close(c.done)
		return nil
	}
	go c.tick(c.opts.NoticeEvery)
	return nil
}

// tick publishes the periodic notice until Shutdown.
func (c *Chat) tick(every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if err := c.Notice(context.Background(), c.opts.NoticeText); err != nil {
				c.log.Warn("chat: periodic notice not published", "err", err)
			}
		}
	}
}

// Notice publishes a notice on /system/notice from the system session.
// Notices are lazy: each reaches a client with its next other message, or
// after the lazy timeout.
func (c *Chat) Notice(ctx context.Context, text string) error {
	n := Notice{Text: text, Time: time.Now().UTC().Truncate(time.Millisecond)}
	if err := c.system.Publish(ctx, NoticeChannel, n); err != nil {
		return fmt.Errorf("chat: notice: %w", err)
	}
	return nil
}
